/**
 * `.narinfo` files (src/libstore/nar-info.cc): `Key: Value` lines, each ending in "\n"; the key
 * runs to the first ":" and the value starts after ": ". Unknown keys are ignored. StorePath,
 * URL, NarHash and a non-zero NarSize are required; a missing Compression means bzip2; a second
 * References or CA line is an error; `Deriver: unknown-deriver` means none.
 */
import { NipError } from '@nip/core'
import { formatHashNix32, parseHash, type NixHash } from './hashString.js'
import { DEFAULT_STORE_DIR, formatStorePath, parseStorePath, parseStorePathBase, type StorePath } from './storePath.js'

export interface NarInfo {
  storePath: StorePath
  url: string
  compression: string
  fileHash?: NixHash
  fileSize?: number
  narHash: NixHash
  narSize: number
  /** Base names `<hash>-<name>`. */
  references: string[]
  deriver?: string
  sigs: string[]
  ca?: string
}

export function parseNarInfo(text: string, opts: { storeDir?: string; source?: string } = {}): NarInfo {
  const storeDir = opts.storeDir ?? DEFAULT_STORE_DIR
  const where = opts.source ?? 'narinfo'
  const bad = (why: string) =>
    new NipError('ERR_NIP_BAD_PACKAGE', `${where} is corrupt: ${why}`, {
      hint: 'The binary cache serves a malformed .narinfo; try another substituter.',
      data: { source: opts.source },
    })
  if (text.length > 0 && !text.endsWith('\n')) throw bad('the last line does not end in a newline')
  const fields = new Map<string, string>()
  const sigs: string[] = []
  let references: string[] | undefined
  let ca: string | undefined
  for (const line of text.split('\n').slice(0, -1)) {
    const colon = line.indexOf(':')
    if (colon < 0) throw bad(`line without a colon: ${JSON.stringify(line)}`)
    const key = line.slice(0, colon)
    const value = line.slice(colon + 2)
    if (key === 'Sig') sigs.push(value)
    else if (key === 'References') {
      if (references !== undefined) throw bad('extra References')
      references = value === '' ? [] : value.split(' ').filter((r) => r !== '')
    } else if (key === 'CA') {
      if (ca !== undefined) throw bad('extra CA')
      ca = value
    } else fields.set(key, value)
  }
  const storePathText = fields.get('StorePath')
  if (storePathText === undefined) throw bad('StorePath is missing')
  const storePath = parseStorePath(storePathText, storeDir)
  if (storePath === null) throw bad(`StorePath ${JSON.stringify(storePathText)} is not a store path under ${storeDir}`)
  const url = fields.get('URL')
  if (url === undefined || url === '') throw bad('URL is missing')
  const narHashText = fields.get('NarHash')
  if (narHashText === undefined) throw bad('NarHash is missing')
  const narSize = parseSize(fields.get('NarSize'), 'NarSize', bad)
  if (narSize === undefined || narSize === 0) throw bad('NarSize is missing or zero')
  for (const r of references ?? []) if (parseStorePathBase(r) === null) throw bad(`reference ${JSON.stringify(r)} is not a store path base name`)
  const fileHashText = fields.get('FileHash')
  const fileSize = parseSize(fields.get('FileSize'), 'FileSize', bad)
  const deriver = fields.get('Deriver')
  const compression = fields.get('Compression')
  return {
    storePath,
    url,
    compression: compression === undefined || compression === '' ? 'bzip2' : compression,
    ...(fileHashText !== undefined ? { fileHash: parseHash(fileHashText) } : {}),
    ...(fileSize !== undefined ? { fileSize } : {}),
    narHash: parseHash(narHashText),
    narSize,
    references: references ?? [],
    ...(deriver !== undefined && deriver !== '' && deriver !== 'unknown-deriver' ? { deriver } : {}),
    sigs,
    ...(ca !== undefined ? { ca } : {}),
  }
}

function parseSize(text: string | undefined, key: string, bad: (why: string) => NipError): number | undefined {
  if (text === undefined) return undefined
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) throw bad(`${key} is not a number: ${JSON.stringify(text)}`)
  return Number(text)
}

/**
 * The signed message (ValidPathInfo::fingerprint, src/libstore/path-info.cc):
 * `1;<storePath>;sha256:<nix32>;<narSize>;<sorted full reference paths, comma-joined>`.
 */
export function fingerprint(info: NarInfo, storeDir = DEFAULT_STORE_DIR): string {
  const refs = info.references.map((r) => `${storeDir}/${r}`).sort()
  return `1;${formatStorePath(info.storePath, storeDir)};${formatHashNix32(info.narHash)};${info.narSize};${refs.join(',')}`
}
