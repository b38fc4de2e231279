/**
 * A Nix binary cache client over the configured substituters (in order; a cache's
 * nix-cache-info Priority sorts them, lower first, like Nix). Looks up narinfo files, verifies
 * their signatures (require-sigs), and downloads NARs, checking FileSize and FileHash through the
 * downloader; NarHash and NarSize are checked by the caller over the decompressed stream (and
 * here too, before the file is kept, when a narinfo has no FileHash).
 *
 * Failover, like Nix's substitution goal: a substituter whose narinfo cannot be fetched, does not
 * parse, describes another path or is not signed by a trusted key is passed over for the next
 * one; a NAR that cannot be fetched or fails its checks is fetched from the next substituter that
 * has the same path (same NarHash and NarSize, its own narinfo verified). When none succeeds the
 * error names every URL tried and how it failed.
 */
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { createBrotliDecompress } from 'node:zlib'
import path from 'node:path'
import { NipError, decompressStream, type Compression, type Reporter, cacheRm } from '@nip/core'
import { parseCacheInfo } from './cacheInfo.js'
import { parseNarInfo, type NarInfo } from './narInfo.js'
import type { NixConfig } from './nixConfig.js'
import { requireSignature } from './signature.js'
import { formatStorePath, type StorePath } from './storePath.js'
import { combineFailures, fetchSmall, fetchToFile, readStream } from './transfer.js'

const MAX_NARINFO = 1024 * 1024

export interface LocatedNarInfo {
  info: NarInfo
  /** The substituter that served it. */
  substituter: string
  /** Where the narinfo came from. */
  url: string
  /** The key name whose signature verified (undefined when require-sigs is off and none did). */
  signedBy?: string
}

export class BinaryCache {
  private probed: Promise<{ url: string; i: number; priority: number; answered: boolean; usable: boolean }[]> | undefined
  private readonly narInfos = new Map<string, Promise<LocatedNarInfo | null>>()
  private readonly downloads = new Map<string, Promise<{ path: string; size: number; info: NarInfo }>>()

  constructor(
    private readonly config: NixConfig,
    private readonly signal?: AbortSignal,
    /** Told when a substituter is passed over for the next one (warning `substituter-skipped`). */
    private readonly reporter?: Reporter,
  ) {}

  /** A substituter failed and the next one is tried: say so (the error names it when all fail). */
  private passedOver(url: string, error: NipError): void {
    this.reporter?.emit({ type: 'warning', code: 'substituter-skipped', message: `${url}: ${error.message} — trying the next substituter.`, data: { url, error: error.code } })
  }

  /**
   * Each substituter's `nix-cache-info`, fetched once: whether it answered, its Priority, and
   * whether its StoreDir is ours.
   */
  private probeCaches(): Promise<{ url: string; i: number; priority: number; answered: boolean; usable: boolean }[]> {
    this.probed ??= Promise.all(
      this.config.substituters.map(async (url, i) => {
        const got = await fetchSmall([`${url}/nix-cache-info`], { maxSize: 65536, ...this.opt() }).catch(() => null)
        const info = got ? parseCacheInfo(got.data.toString('utf8')) : {}
        const usable = info.storeDir === undefined || info.storeDir === this.config.storeDir
        return { url, i, priority: info.priority ?? 50, answered: got !== null, usable }
      }),
    )
    return this.probed
  }

  /**
   * Substituters in the order they are asked (config order, then Priority). One whose
   * `nix-cache-info` could not be fetched is still asked (at the default priority); one with
   * another StoreDir is not.
   */
  async substituters(): Promise<string[]> {
    return (await this.probeCaches())
      .filter((x) => x.usable)
      .sort((a, b) => a.priority - b.priority || a.i - b.i)
      .map((x) => x.url)
  }

  /** The substituters whose `nix-cache-info` was fetched and names our StoreDir: the reachable ones. */
  async reachableSubstituters(): Promise<string[]> {
    return (await this.probeCaches()).filter((x) => x.answered && x.usable).map((x) => x.url)
  }

  /** The narinfo of a store path with its signature checked (require-sigs), or null when no substituter has it. */
  verifiedNarInfo(p: StorePath): Promise<LocatedNarInfo | null> {
    return this.narInfo(p)
  }

  /**
   * The narinfo of a store path from the first substituter that serves a usable one (signature
   * checked under require-sigs), or null when no substituter has it; throws when some
   * substituter failed and none served it.
   */
  narInfo(p: StorePath): Promise<LocatedNarInfo | null> {
    let found = this.narInfos.get(p.hashPart)
    if (found === undefined) {
      found = this.lookUp(p)
      this.narInfos.set(p.hashPart, found)
      found.catch(() => this.narInfos.delete(p.hashPart))
    }
    return found
  }

  private async lookUp(p: StorePath): Promise<LocatedNarInfo | null> {
    const failures: { url: string; error: NipError }[] = []
    for (const substituter of await this.substituters()) {
      try {
        const located = await this.fromSubstituter(p, substituter)
        if (located !== null) return located
      } catch (e) {
        if (!passOver(e)) throw e
        failures.push({ url: `${substituter}/${p.hashPart}.narinfo`, error: e })
        this.passedOver(`${substituter}/${p.hashPart}.narinfo`, e)
      }
    }
    if (failures.length > 0) throw combineFailures(`${p.hashPart}.narinfo`, failures, 'substituter')
    return null
  }

  /** One substituter's narinfo of `p`, parsed, matched and (require-sigs) signature-checked; null when it does not have it. */
  private async fromSubstituter(p: StorePath, substituter: string): Promise<LocatedNarInfo | null> {
    const got = await fetchSmall([`${substituter}/${p.hashPart}.narinfo`], { maxSize: MAX_NARINFO, label: `${p.hashPart}.narinfo`, ...this.opt() })
    if (got === null) return null
    const info = parseNarInfo(got.data.toString('utf8'), { storeDir: this.config.storeDir, source: got.url })
    if (info.storePath.hashPart !== p.hashPart || info.storePath.name !== p.name) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${got.url} describes ${formatStorePath(info.storePath, this.config.storeDir)}, not ${formatStorePath(p, this.config.storeDir)}`, {
        hint: 'The binary cache is inconsistent; try another substituter.',
        data: { url: got.url },
      })
    }
    const signedBy = this.config.requireSigs ? requireSignature(info, this.config.trustedKeys, { storeDir: this.config.storeDir, source: got.url }) : undefined
    return { info, substituter, url: got.url, ...(signedBy !== undefined ? { signedBy } : {}) }
  }

  /** `located` first, then the same path (same NarHash and NarSize) from the other substituters, in order. */
  private async *narSources(located: LocatedNarInfo, failures: { url: string; error: NipError }[]): AsyncGenerator<LocatedNarInfo> {
    yield located
    const p = located.info.storePath
    for (const substituter of await this.substituters()) {
      if (substituter === located.substituter) continue
      try {
        const other = await this.fromSubstituter(p, substituter)
        if (other !== null && other.info.narSize === located.info.narSize && other.info.narHash.digest.equals(located.info.narHash.digest)) yield other
      } catch (e) {
        if (!passOver(e)) throw e
        failures.push({ url: `${substituter}/${p.hashPart}.narinfo`, error: e })
        this.passedOver(`${substituter}/${p.hashPart}.narinfo`, e)
      }
    }
  }

  /** Download the NAR file to `cacheDir` (FileSize and FileHash verified) and return it decompressed. */
  async nar(located: LocatedNarInfo, cacheDir: string): Promise<{ stream: AsyncIterable<Uint8Array>; downloaded: number }> {
    // One download per store path at a time: a closure member is fetched for itself and, in
    // parallel, for a link that points into it.
    const key = `${cacheDir}\0${located.info.storePath.hashPart}`
    let pending = this.downloads.get(key)
    if (pending === undefined) {
      pending = this.fetchNar(located, cacheDir)
      this.downloads.set(key, pending)
      void pending.finally(() => this.downloads.delete(key)).catch(() => undefined)
    }
    const file = await pending
    return { stream: decompress(readStream(file.path), file.info.compression, file.info.url), downloaded: file.size }
  }

  /** The NAR from the first substituter that delivers it intact (see the file comment). */
  private async fetchNar(located: LocatedNarInfo, cacheDir: string): Promise<{ path: string; size: number; info: NarInfo }> {
    const failures: { url: string; error: NipError }[] = []
    for await (const source of this.narSources(located, failures)) {
      const { info } = source
      const url = `${source.substituter}/${info.url}`
      try {
        if (info.url.includes('..') || info.url.startsWith('/') || /^[a-z]+:/i.test(info.url)) {
          throw new NipError('ERR_NIP_BAD_PACKAGE', `narinfo URL ${JSON.stringify(info.url)} is not relative to the cache`, { hint: 'The binary cache is malformed.', data: { url: info.url } })
        }
        const dest = path.join(cacheDir, 'nar', `${info.storePath.hashPart}-${path.basename(info.url.split('?')[0])}`)
        return { ...(await this.download(source, dest)), info }
      } catch (e) {
        if (!passOver(e)) throw e
        failures.push({ url, error: e })
        this.passedOver(url, e)
      }
    }
    throw combineFailures(`the NAR of ${formatStorePath(located.info.storePath, this.config.storeDir)}`, failures, 'substituter')
  }

  private async download(located: LocatedNarInfo, dest: string): Promise<{ path: string; size: number }> {
    const { info, substituter } = located
    const expectHash = info.fileHash ? { algorithm: info.fileHash.algorithm, digest: info.fileHash.digest.toString('hex') } : undefined
    // A NAR already downloaded (a closure member materialised for a link) is reused once its
    // FileHash verifies again.
    if (expectHash && (await fileDigest(dest, expectHash.algorithm)) === expectHash.digest) {
      return { path: dest, size: 0 }
    }
    const file = await fetchToFile({
      urls: [`${substituter}/${info.url}`],
      dest,
      ...(info.fileSize !== undefined ? { expectSize: info.fileSize } : {}),
      ...(expectHash ? { expectHash } : {}),
      label: `${info.storePath.name} NAR`,
      ...this.opt(),
    })
    // Without a FileHash nothing has checked the bytes yet: check NarHash now, so a wrong file
    // is neither kept nor preferred over the next substituter.
    if (!expectHash) await checkNarHash(file.path, info, `${substituter}/${info.url}`)
    return { path: file.path, size: file.size }
  }

  private opt(): { signal?: AbortSignal; retries?: number; timeoutMs?: number } {
    return {
      ...(this.signal ? { signal: this.signal } : {}),
      ...(this.config.retries !== undefined ? { retries: this.config.retries } : {}),
      ...(this.config.timeoutMs !== undefined ? { timeoutMs: this.config.timeoutMs } : {}),
    }
  }
}

/** Failures that another substituter may not have: fetch errors, bad or unsigned narinfo, wrong bytes. */
function passOver(e: unknown): e is NipError {
  return e instanceof NipError && e.code !== 'ERR_NIP_NO_SPACE' && e.code !== 'ERR_NIP_INTERNAL' && e.code !== 'ERR_NIP_ARCHIVE_COMPRESSION'
}

/** Deletes `file` (and its sidecar) unless its decompressed bytes have the narinfo's NarHash and NarSize. */
async function checkNarHash(file: string, info: NarInfo, url: string): Promise<void> {
  const h = createHash(info.narHash.algorithm)
  let size = 0
  let failure: unknown
  let stream: AsyncIterable<Uint8Array>
  try {
    stream = decompress(readStream(file), info.compression, info.url)
  } catch (e) {
    // An unknown Compression: the bytes cannot be checked, so they are not kept.
    cacheRm(file)
    cacheRm(`${file}.meta.json`)
    throw e
  }
  try {
    for await (const c of stream) {
      h.update(c)
      size += c.length
    }
  } catch (e) {
    failure = e
  }
  if (failure === undefined && size === info.narSize && h.digest().equals(info.narHash.digest)) return
  cacheRm(file)
  cacheRm(`${file}.meta.json`)
  if (failure instanceof NipError && failure.code === 'ERR_NIP_NO_SPACE') throw failure
  throw new NipError('ERR_NIP_HASH_MISMATCH', `${url} does not decompress to the NarHash/NarSize of ${info.storePath.name}${failure ? ` (${(failure as Error).message})` : ''}`, {
    hint: 'The binary cache serves a corrupt or tampered NAR; try another substituter.',
    data: { url },
  })
}

async function fileDigest(file: string, algorithm: string): Promise<string | null> {
  try {
    const h = createHash(algorithm)
    for await (const c of readStream(file)) h.update(c)
    return h.digest('hex')
  } catch {
    return null
  }
}

const CORE_COMPRESSIONS: Record<string, Compression> = { none: 'none', xz: 'xz', zstd: 'zstd', bzip2: 'bzip2', gzip: 'gzip' }

/** Decompress per the narinfo's Compression (never guessed from the bytes). */
export function decompress(src: AsyncIterable<Buffer>, compression: string, archive: string): AsyncIterable<Uint8Array> {
  if (compression === 'br') return Readable.from(src).pipe(createBrotliDecompress())
  const c = CORE_COMPRESSIONS[compression]
  if (c === undefined) {
    throw new NipError('ERR_NIP_ARCHIVE_COMPRESSION', `The NAR ${archive} uses compression ${JSON.stringify(compression)}, which nip does not read`, {
      hint: 'nip reads NARs compressed with none, xz, zstd, bzip2, gzip and br.',
      data: { compression, archive },
    })
  }
  return decompressStream(src, { compression: c, archive })
}
