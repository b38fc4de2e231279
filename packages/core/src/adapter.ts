/**
 * The source adapter contract (Yarn Resolver/Fetcher split, Nix substituters).
 *
 * Contracts every adapter keeps:
 * - resolve/describe/search have no side effects beyond the adapter's own cache directory.
 * - fetch downloads, verifies (hashes, signatures) and streams every regular file into the CAS;
 *   it never writes into /Programs or /System — placing files is core's job.
 * - paths in a FetchResult are already mapped to the Gobo layout (usr/bin -> bin, etc -> Settings).
 */
import type { Cas } from '@nip/cas'
import type { Layout } from './layout.js'
import type { Reporter } from './reporter.js'
import type { Limits } from './archive/limits.js'

export type AdapterId = 'nix' | 'pacman' | 'pkgsrc' | 'gentoo' | 'debian' | 'gobo' | (string & {})

/** What the user asked for: `[source:]name[@version]`, or a local package file. */
export interface PackageSpec {
  source?: AdapterId
  name: string
  version?: string
  /** Absolute path of a local package file (`nip install ./x.tar.gz`). */
  file?: string
  /** The spec as typed. */
  raw: string
  /**
   * Variant words that followed the spec on the command line (`+flag`, `-flag`, `~flag`,
   * `key=value`), in order; each source interprets them (Gentoo: USE flags).
   */
  variants?: string[]
}

/** A candidate a source offers. */
export interface PackageRef {
  source: AdapterId
  /** Program name it will be grafted as. */
  name: string
  version: string
  /** The source's own identifier (store path, filename, cpv, ...). */
  id: string
  summary?: string
  /**
   * The variant words this candidate was resolved for (PackageSpec.variants), passed back to
   * describe/fetch. An adapter that honours variants also encodes them in `id`, which is what
   * the database records for a grafted program, so the build a program came from stays known.
   */
  variants?: string[]
}

export interface DependencySpec {
  name: string
  /** Constraint in the source's own syntax (e.g. ">= 1.2"), empty when any version will do. */
  constraint?: string
  /** The dependency exactly as the source wrote it. */
  raw: string
  /**
   * Alternatives (`a | b` in Gobo/Debian): when present, the first satisfiable one is used, in
   * order; `name`/`constraint` then repeat the first alternative.
   */
  anyOf?: DependencySpec[]
}

export interface PackageManifest {
  ref: PackageRef
  dependencies: DependencySpec[]
  provides: string[]
  conflicts: string[]
  /** Bytes to download (0 when unknown). */
  downloadSize: number
  /** Bytes the program occupies once grafted (0 when unknown). */
  installedSize: number
  description?: string
  license?: string
  homepage?: string
  variants?: string[]
  hashes?: Record<string, string>
  extra?: Record<string, unknown>
}

export type EntryType = 'file' | 'dir' | 'symlink'

/** One entry of a fetched program tree, relative to /Programs/<Name>/<Version>. */
export interface TreeEntry {
  /** POSIX relative path, no leading "/", no "." or ".." components. */
  path: string
  type: EntryType
  /** Permission bits only (setuid/setgid already cleared by the unpacker). */
  mode: number
  /** CAS key, for files. */
  blob?: string
  size?: number
  /** Symlink target, for symlinks. */
  target?: string
  /**
   * A configuration file: grafted into /Programs/<Name>/Settings/<path-relative-to-Settings>,
   * copied (never hardlinked), and a user's edited copy is kept. Paths of settings entries
   * start with "Settings/".
   */
  settings?: boolean
}

export interface Scriptlet {
  /** e.g. "post_install", "postinst", "@exec". */
  name: string
  body: string
}

export interface FetchResult {
  ref: PackageRef
  entries: TreeEntry[]
  /** Maintainer scripts recorded and reported, never run. */
  scriptlets?: Scriptlet[]
  /** Bytes actually downloaded. */
  downloaded?: number
  /**
   * Blobs the adapter added to the CAS that its entries no longer name (the unpatched originals of
   * relocated files). Once the transaction is registered, core deletes those nothing references.
   */
  scratchBlobs?: string[]
}

export interface AdapterStatus {
  id: AdapterId
  configured: boolean
  reachable: boolean | null
  /** Why it is unusable, or a note (e.g. "3 repositories, 1200 packages"). */
  detail: string
}

export interface SearchHit {
  ref: PackageRef
  score?: number
  /** Set by core: the version of a program of this name that is Current in the root, and its source. */
  installed?: { version: string; source: AdapterId }
}

/**
 * Where a fetched tree will be staged, given to fetch so that unpacking can create each file in
 * place (UnpackOptions.stage): its inode is then allocated beside the program, in archive order,
 * and the blob in the store is a hardlink to it. Staging skips what is already there with the
 * right blob and removes any other file placed there.
 */
export interface StageTarget {
  /** The staging directory (absolute; created, and checked to be inside the root). */
  dir: string
  /** Files placed so far: tree path → blob key. */
  placed: Map<string, string>
}

export interface AdapterContext {
  layout: Layout
  cas: Cas
  reporter: Reporter
  /** During fetch, when the store's import method for the staging directory is `hardlink`: see StageTarget. Adapters pass it to unpackToCas. */
  stage?: StageTarget
  /** The adapter's own table from the configuration (`[pacman]`, ...), possibly empty. */
  config: Record<string, unknown>
  /** Another source's table from the configuration (the build source reads `[debian]` for its mirror). */
  sourceConfig?: (id: AdapterId) => Record<string, unknown>
  /** The adapter's private cache directory (created on demand). */
  cacheDir: string
  limits: Limits
  signal?: AbortSignal
  /**
   * How the adapter's local index is used (adapters with `update`): younger than `maxAgeSeconds`
   * it is read as it is, without the network; older, a query refreshes it first (and falls back
   * to it, with a warning giving its age, when the network fails); `refresh: 'force'` is
   * `nip update`.
   */
  index?: { maxAgeSeconds: number; refresh?: 'auto' | 'force' }
}

/** One source's answer to `nip update`. */
export interface SourceUpdate {
  source: AdapterId
  /** updated: new metadata verified and in use; unchanged: the same as before; partial: some indexes kept their last good copy or are not in use; failed: nothing refreshed (the last good copy stays). */
  status: 'updated' | 'unchanged' | 'partial' | 'failed' | 'not-supported'
  detail: string
  /** Per repository/suite/index, where the source has several. */
  parts?: { name: string; status: 'updated' | 'unchanged' | 'partial' | 'failed'; detail: string }[]
  error?: { code: string; message: string }
}

export interface SourceAdapter {
  readonly id: AdapterId
  probe(ctx: AdapterContext): Promise<AdapterStatus>
  /**
   * Whether the configuration gives this source anything to look in (repositories, mirrors, a
   * binary cache), judged from the configuration alone: no network, no index. Absent: configured.
   */
  configured?(ctx: AdapterContext): Promise<boolean>
  search(query: string, ctx: AdapterContext): AsyncIterable<SearchHit>
  /**
   * Every package name in the source's local index, read as it is (no refresh, no network), for
   * "did you mean" on a name no source has. Absent: the source cannot list its names.
   */
  names?(ctx: AdapterContext): AsyncIterable<string>
  /** Candidates, best first. Empty when the source does not have it. No side effects. */
  resolve(spec: PackageSpec, ctx: AdapterContext): Promise<PackageRef[]>
  describe(ref: PackageRef, ctx: AdapterContext): Promise<PackageManifest>
  fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult>
  /** The ecosystem's own version ordering (negative, zero, positive). */
  compareVersions(a: string, b: string): number
  /** Whether an installed version satisfies a dependency in this ecosystem's syntax. */
  satisfies(dep: DependencySpec, version: string): boolean
  /**
   * Whether resolve/describe/fetch honour PackageSpec.variants. Core refuses variants for a
   * source without it (ERR_NIP_BAD_SPEC "<source> packages have no variants") rather than
   * silently grafting a build that ignores them.
   */
  readonly acceptsVariants?: boolean
  /**
   * Present on adapters that install local package files (`nip install ./file`). Which adapter
   * gets a file is decided by core from the file's content (packageFormat.ts), not by this
   * answer; it is kept for callers that want the adapter's own opinion of a file name.
   */
  claimsFile?(path: string): boolean
  /**
   * Source-specific health of a grafted version (for `nip doctor`), e.g. that every ELF
   * interpreter and needed library of a relocated Nix program resolves. One line per problem.
   */
  checkProgram?(versionDir: string): Promise<string[]>
  /** Refresh the local index from the network (`nip update`); the last good copy stays where this fails. */
  update?(ctx: AdapterContext): Promise<SourceUpdate>
}

export interface BuildCapable {
  build(ref: PackageRef, variants: string[], ctx: AdapterContext): Promise<FetchResult>
}

/**
 * Every adapter package exports `createAdapter(): SourceAdapter`; the CLI registers them as lazy
 * factories so `nip --help` loads none of them.
 */
export type AdapterFactory = () => SourceAdapter
