/**
 * A Nix binary cache client over the configured substituters (in order; a cache's
 * nix-cache-info Priority sorts them, lower first, like Nix). Looks up narinfo files, verifies
 * their signatures (require-sigs), and downloads NARs, checking FileSize and FileHash through the
 * downloader; NarHash and NarSize are checked by the caller over the decompressed stream.
 */
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { createBrotliDecompress } from 'node:zlib'
import path from 'node:path'
import { NipError, decompressStream, type Compression } from '@nip/core'
import { parseCacheInfo } from './cacheInfo.js'
import { parseNarInfo, type NarInfo } from './narInfo.js'
import type { NixConfig } from './nixConfig.js'
import { requireSignature } from './signature.js'
import { formatStorePath, type StorePath } from './storePath.js'
import { fetchSmall, fetchToFile, readStream } from './transfer.js'

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
  private ordered: Promise<string[]> | undefined
  private readonly narInfos = new Map<string, Promise<LocatedNarInfo | null>>()
  private readonly downloads = new Map<string, Promise<{ path: string; size: number }>>()

  constructor(
    private readonly config: NixConfig,
    private readonly signal?: AbortSignal,
  ) {}

  /** Substituters in the order they are asked (config order, then Priority). */
  substituters(): Promise<string[]> {
    this.ordered ??= Promise.all(
      this.config.substituters.map(async (url, i) => {
        const got = await fetchSmall([`${url}/nix-cache-info`], { maxSize: 65536, ...this.opt() }).catch(() => null)
        const info = got ? parseCacheInfo(got.data.toString('utf8')) : {}
        if (info.storeDir !== undefined && info.storeDir !== this.config.storeDir) return null
        return { url, i, priority: info.priority ?? 50 }
      }),
    ).then((list) =>
      list
        .filter((x): x is { url: string; i: number; priority: number } => x !== null)
        .sort((a, b) => a.priority - b.priority || a.i - b.i)
        .map((x) => x.url),
    )
    return this.ordered
  }

  /** The narinfo of a store path with its signature checked (require-sigs), or null when no substituter has it. */
  async verifiedNarInfo(p: StorePath): Promise<LocatedNarInfo | null> {
    const located = await this.narInfo(p)
    if (located === null || !this.config.requireSigs) return located
    const signedBy = requireSignature(located.info, this.config.trustedKeys, { storeDir: this.config.storeDir, source: located.url })
    return { ...located, signedBy }
  }

  /** The narinfo of a store path, NOT yet signature-checked (for resolve), or null when no substituter has it. */
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
    const full = formatStorePath(p, this.config.storeDir)
    for (const substituter of await this.substituters()) {
      const got = await fetchSmall([`${substituter}/${p.hashPart}.narinfo`], { maxSize: MAX_NARINFO, label: `${p.hashPart}.narinfo`, ...this.opt() })
      if (got === null) continue
      const info = parseNarInfo(got.data.toString('utf8'), { storeDir: this.config.storeDir, source: got.url })
      if (info.storePath.hashPart !== p.hashPart || info.storePath.name !== p.name) {
        throw new NipError('ERR_NIP_BAD_PACKAGE', `${got.url} describes ${formatStorePath(info.storePath, this.config.storeDir)}, not ${full}`, {
          hint: 'The binary cache is inconsistent; try another substituter.',
          data: { url: got.url },
        })
      }
      return { info, substituter, url: got.url }
    }
    return null
  }

  /** Download the NAR file to `cacheDir` (FileSize and FileHash verified) and return it decompressed. */
  async nar(located: LocatedNarInfo, cacheDir: string): Promise<{ stream: AsyncIterable<Uint8Array>; downloaded: number }> {
    const { info } = located
    if (info.url.includes('..') || info.url.startsWith('/') || /^[a-z]+:/i.test(info.url)) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `narinfo URL ${JSON.stringify(info.url)} is not relative to the cache`, { hint: 'The binary cache is malformed.', data: { url: info.url } })
    }
    const dest = path.join(cacheDir, 'nar', `${info.storePath.hashPart}-${path.basename(info.url.split('?')[0])}`)
    // One download per file at a time: a closure member is fetched for itself and, in
    // parallel, for a link that points into it.
    let pending = this.downloads.get(dest)
    if (pending === undefined) {
      pending = this.download(located, dest)
      this.downloads.set(dest, pending)
      void pending.finally(() => this.downloads.delete(dest)).catch(() => undefined)
    }
    const file = await pending
    return { stream: decompress(readStream(file.path), info.compression, info.url), downloaded: file.size }
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
    return file
  }

  private opt(): { signal?: AbortSignal } {
    return this.signal ? { signal: this.signal } : {}
  }
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
