/**
 * GPKG binary packages (GLEP 78, Portage lib/portage/gpkg.py): an uncompressed outer tar whose
 * members all sit in one directory `<basename>/`: `gpkg-1` (format marker), `metadata.tar[.comp]`
 * (`metadata/<KEY>` files), `image.tar[.comp]` (`image/<installed tree>`), optional `.sig`
 * detached signatures, and `Manifest` (`DATA <member> <size> BLAKE2B <hex> SHA512 <hex>`).
 *
 * Contract (Portage's `_verify_binpkg` checks, all enforced): `gpkg-1` and `Manifest` exist;
 * every member has exactly one `/` and the same prefix; no member appears twice; every member
 * but the Manifest has exactly one Manifest record with its size and every supported hash
 * (BLAKE2B, SHA512) matching; a record without a member is refused. The Manifest comes last, so
 * the file is read twice: the first pass hashes every member and checks it against the Manifest,
 * and only a verified image reaches the decompressor and core's unpackToCas (every path, link
 * and device check applies) in the second pass.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import { NipError, decompressStream, readTar, unpackToCas, verifyCleartext, type Limits, type PublicKeyring, type StageTarget, type TreeEntry } from '@nip/core'
import type { Cas } from '@nip/cas'
import { isSettingsPath, mapImagePath, mapPrefixedImagePath } from './memberPath.js'

/** The most bytes a metadata member or the Manifest may have. */
const MAX_SMALL_MEMBER = 16 * 1024 * 1024
const MEMBER_RE = /^(gpkg-1|Manifest|(?:metadata|image)\.tar(?:\.(?:gz|bz2|xz|zst|lz4|lz|lzo))?(?:\.sig)?)$/

export interface GpkgContent {
  entries: TreeEntry[]
  metadata: Map<string, string>
  /** Members that carry detached signatures (`image.tar.zst.sig`, …). */
  signatures: string[]
  /** Whether the Manifest is OpenPGP clear-signed. */
  manifestSigned: boolean
}

interface MemberDigest {
  size: number
  blake2b: string
  sha512: string
}

/**
 * With a keyring, the Manifest must be OpenPGP clear-signed by one of its keys (it binds every
 * member's size and hashes, so it authenticates the whole package); without one, a signed
 * Manifest's text is used unverified and the result says it was signed.
 */
/**
 * `eprefix`: the image is a Gentoo Prefix build's, installed under that EPREFIX
 * (mapPrefixedImagePath: `<EPREFIX>/usr/X` → `X`, anything outside the prefix refused).
 */
export async function readGpkg(file: string, opts: { cas: Cas; limits: Limits; label: string; keyring?: PublicKeyring; stage?: StageTarget; eprefix?: string }): Promise<GpkgContent> {
  const bad = (message: string, data: Record<string, unknown> = {}): NipError =>
    new NipError('ERR_NIP_BAD_PACKAGE', `${opts.label}: ${message}`, {
      hint: 'The binary package is not a valid GPKG; the binhost may be corrupt or hostile.',
      data: { file: opts.label, ...data },
    })
  let prefix: string | undefined
  const digests = new Map<string, MemberDigest>()
  let manifest: Buffer | undefined
  let metadataTar: Buffer | undefined
  let imageMember: string | undefined
  let marker = false
  const signatures: string[] = []
  for await (const entry of readTar(fs.createReadStream(file), { limits: opts.limits, archive: opts.label })) {
    const slash = entry.path.indexOf('/')
    if (entry.type === 'dir' && slash === -1) continue
    if (slash <= 0 || entry.path.indexOf('/', slash + 1) !== -1) throw bad(`member ${entry.path} is not exactly one directory deep`)
    const dir = entry.path.slice(0, slash)
    const name = entry.path.slice(slash + 1)
    if (prefix === undefined) prefix = dir
    else if (dir !== prefix) throw bad(`members in two directories (${prefix}, ${dir})`)
    if (entry.type !== 'file') throw bad(`member ${entry.path} is not a regular file`)
    if (!MEMBER_RE.test(name)) throw bad(`unknown member ${name}`)
    if (digests.has(name) || (name === 'Manifest' && manifest !== undefined)) throw bad(`member ${name} appears twice (potential attack)`)
    const hashing = hasher()
    if (name.startsWith('image.tar') && !name.endsWith('.sig')) {
      if (imageMember !== undefined) throw bad('two image archives')
      imageMember = entry.path
      for await (const _chunk of hashing.tee(entry.body!)) {
        // hashed only; unpacked in the second pass, once verified
      }
    } else {
      const chunks: Buffer[] = []
      let total = 0
      for await (const chunk of hashing.tee(entry.body!)) {
        total += chunk.length
        if (total > MAX_SMALL_MEMBER) throw bad(`member ${name} is larger than ${MAX_SMALL_MEMBER} bytes`)
        chunks.push(chunk)
      }
      const content = Buffer.concat(chunks)
      if (name === 'Manifest') manifest = content
      else if (name === 'gpkg-1') marker = true
      else if (name.endsWith('.sig')) signatures.push(name)
      else metadataTar = content
    }
    if (name !== 'Manifest') digests.set(name, hashing.digest())
  }
  if (!marker) throw bad('no gpkg-1 format marker')
  if (manifest === undefined) throw bad('no Manifest')
  if (metadataTar === undefined) throw bad('no metadata archive')
  if (imageMember === undefined) throw bad('no image archive')

  const text = manifest.toString('utf8')
  const manifestSigned = text.startsWith('-----BEGIN PGP SIGNED MESSAGE-----')
  let body = manifestBody(text)
  if (opts.keyring !== undefined) {
    if (!manifestSigned) {
      throw new NipError('ERR_NIP_SIGNATURE_MISSING', `${opts.label}: the Manifest is not signed, and [gentoo] keyring requires signed packages`, {
        hint: 'Use a binhost that signs its packages (FEATURES=binpkg-signing), or remove [gentoo] keyring.',
        data: { file: opts.label },
      })
    }
    try {
      body = (await verifyCleartext({ text, keyring: opts.keyring })).data
    } catch (e) {
      if (e instanceof NipError) {
        throw new NipError(e.code, `${opts.label}: Manifest signature: ${e.message}`, { hint: e.hint ?? 'The package is not signed by a trusted key; nothing was grafted.', data: { ...e.data, file: opts.label }, cause: e })
      }
      throw e
    }
  }
  const records = new Map<string, { size: number; hashes: Map<string, string> }>()
  for (const line of body.split('\n')) {
    const fields = line.trim().split(/\s+/)
    if (fields.length === 1 && fields[0] === '') continue
    if (fields[0] !== 'DATA' || fields.length < 3 || fields.length % 2 !== 1) throw bad(`malformed Manifest line ${JSON.stringify(line.slice(0, 80))}`)
    if (records.has(fields[1])) throw bad(`duplicate Manifest record for ${fields[1]}`)
    const hashes = new Map<string, string>()
    for (let i = 3; i < fields.length; i += 2) hashes.set(fields[i], fields[i + 1].toLowerCase())
    records.set(fields[1], { size: Number(fields[2]), hashes })
  }
  for (const name of records.keys()) if (!digests.has(name)) throw bad(`Manifest lists ${name}, which the package lacks (missing files)`)
  for (const [name, got] of digests) {
    const rec = records.get(name)
    if (rec === undefined) throw bad(`member ${name} has no Manifest record`)
    if (rec.size !== got.size) {
      throw new NipError('ERR_NIP_SIZE_MISMATCH', `${opts.label}: ${name} is ${got.size} bytes, its Manifest says ${rec.size}`, {
        hint: 'The binary package is corrupt or was tampered with; nothing was grafted.',
        data: { file: opts.label, member: name, expected: rec.size, actual: got.size },
      })
    }
    let checked = 0
    for (const [algo, want] of rec.hashes) {
      const have = algo === 'BLAKE2B' ? got.blake2b : algo === 'SHA512' ? got.sha512 : undefined
      if (have === undefined) continue
      checked++
      if (have !== want) {
        throw new NipError('ERR_NIP_HASH_MISMATCH', `${opts.label}: ${algo} of ${name} does not match its Manifest`, {
          hint: 'The binary package is corrupt or was tampered with; nothing was grafted.',
          data: { file: opts.label, member: name, algorithm: algo, expected: want, actual: have },
        })
      }
    }
    if (checked === 0) throw bad(`the Manifest record of ${name} has no supported hash (BLAKE2B, SHA512)`)
  }

  let image: TreeEntry[] | undefined
  const imageName = imageMember.slice(imageMember.indexOf('/') + 1)
  for await (const entry of readTar(fs.createReadStream(file), { limits: opts.limits, archive: opts.label })) {
    if (entry.path !== imageMember) continue
    // Hashed again while unpacking: the file must still be the one the first pass verified.
    const again = hasher()
    const result = await unpackToCas(again.tee(entry.body!), {
      cas: opts.cas,
      limits: opts.limits,
      ...(opts.stage !== undefined ? { stage: opts.stage } : {}),
      archive: `${opts.label}:${imageName}`,
      // The image's top directory (`image/`) is stripped before an absolute symlink is rebased,
      // so `/usr/lib/libx.so.1` (or `<EPREFIX>/usr/lib/…`) is rebased against the installed tree.
      stripComponents: 1,
      absoluteSymlinks: 'rebase',
      mapPath: (p, e) => (opts.eprefix !== undefined ? mapPrefixedImagePath(p, opts.eprefix, e.type) : mapImagePath(p)),
      isSettings: isSettingsPath,
    })
    if (again.digest().sha512 !== digests.get(imageName)!.sha512) throw bad('the image archive changed between reads')
    image = result.entries
  }
  if (image === undefined) throw bad('the image archive changed between reads')

  const metadata = new Map<string, string>()
  for await (const e of readTar(decompressStream([metadataTar], { archive: `${opts.label}:metadata` }), { limits: opts.limits, archive: `${opts.label}:metadata` })) {
    if (e.type !== 'file' || !e.path.startsWith('metadata/')) continue
    const chunks: Buffer[] = []
    for await (const c of e.body!) chunks.push(c)
    metadata.set(e.path.slice('metadata/'.length), Buffer.concat(chunks).toString('utf8'))
  }
  return { entries: image, metadata, signatures, manifestSigned }
}

/** The signed text of a clear-signed Manifest (dash-escaping undone), or the text itself. */
function manifestBody(text: string): string {
  if (!text.startsWith('-----BEGIN PGP SIGNED MESSAGE-----')) return text
  const start = text.indexOf('\n\n')
  const end = text.indexOf('\n-----BEGIN PGP SIGNATURE-----')
  if (start === -1 || end === -1) return ''
  return text.slice(start + 2, end).split('\n').map((l) => (l.startsWith('- ') ? l.slice(2) : l)).join('\n')
}

function hasher(): { tee: (src: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>; digest: () => MemberDigest } {
  const b2 = crypto.createHash('blake2b512')
  const s512 = crypto.createHash('sha512')
  let size = 0
  return {
    async *tee(src) {
      for await (const chunk of src) {
        b2.update(chunk)
        s512.update(chunk)
        size += chunk.length
        yield chunk
      }
    },
    digest: () => ({ size, blake2b: b2.digest('hex'), sha512: s512.digest('hex') }),
  }
}

/** Manifest line for a member (used by fixture builders). */
export function manifestLine(name: string, content: Buffer): string {
  const b2 = crypto.createHash('blake2b512').update(content).digest('hex')
  const s512 = crypto.createHash('sha512').update(content).digest('hex')
  return `DATA ${name} ${content.length} BLAKE2B ${b2} SHA512 ${s512}`
}
