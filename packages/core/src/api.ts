/**
 * Result shapes of the Nip facade (nip.ts). These are the `result` of the CLI's --json
 * envelope, so they are a stable interface: add fields, never rename or remove them.
 */
import type { AdapterId, AdapterStatus, PackageManifest, PackageRef, SearchHit } from './adapter.js'
import type { LoadedConfig } from './configTypes.js'
import type { Reporter } from './reporter.js'
import type { SourceAdapter } from './adapter.js'

export interface OpenOptions {
  /** Effective configuration (root included). */
  loaded: LoadedConfig
  reporter?: Reporter
  /** Ready adapters (tests pass an in-memory adapter). They take precedence over factories. */
  adapters?: SourceAdapter[]
  /** Lazy adapter loaders by id; the CLI registers @nip/adapter-* here so core never imports them. */
  adapterFactories?: Record<string, () => Promise<SourceAdapter>>
}

export interface InstallOptions {
  dryRun?: boolean
  /** Restrict resolution to one source (`--source`). */
  source?: AdapterId
  /** Graft even when the same version is already grafted (re-import its tree). */
  reinstall?: boolean
  /** Do not switch Current to the new version when another version is already current. */
  noSwitch?: boolean
  /** The command line, recorded in the log. */
  command?: string
  /** Let Current move to a lower version (see PlannedProgram.change). */
  allowDowngrade?: boolean
  /**
   * The specs as the user typed them when they differ from the specs planned (nip upgrade plans
   * `source:name@version`): what decides whether the user named a source or a version.
   */
  asked?: string[]
  /** Lower-case names among the specs that are grafted as dependencies, not explicit programs. */
  dependencies?: string[]
  /** The generation's kind (default install). */
  kind?: string
  /** The question asked before grafting (default `Graft <names>?`); `false`: the caller has asked already. */
  question?: string | false
}

export interface PlannedProgram {
  name: string
  version: string
  source: AdapterId
  packageId: string
  /** Why it is in the plan: the user asked, or a dependency of another planned program. */
  reason: 'explicit' | 'dependency'
  requiredBy: string[]
  /** The variant words asked for this program (`+vaapi`, `video_cards=intel`), when any. */
  variants?: string[]
  downloadSize: number
  installedSize: number
  /** Set when the program is already grafted at a satisfying version (not fetched again). */
  skip?: 'already-installed'
  /**
   * What it does to the program's Current: a new program, a new dependency, an upgrade, a
   * downgrade or a reinstall of the version that is Current (upgrade.ts, classifyPlan).
   */
  change?: 'install' | 'new-dependency' | 'upgrade' | 'downgrade' | 'reinstall'
  /** The Current it replaces. */
  from?: { version: string; source: AdapterId }
  /** Current moves to another source's program of that name. */
  sourceChange?: boolean
  /** Whether Current moves to it (not when Current is pinned, or with --no-switch). */
  movesCurrent?: boolean
}

export interface Plan {
  action: 'install' | 'remove' | 'switch'
  programs: PlannedProgram[]
  downloadSize: number
  installedSize: number
  /** Free bytes on the filesystem holding the root. */
  freeSpace: number
  /** Warnings the user should see before committing. */
  warnings: string[]
}

export interface ProgramSummary {
  name: string
  version: string
  source: AdapterId
  packageId: string
  current: boolean
  explicit: boolean
  installedAt: string
  size: number
  files: number
  treeDigest: string
  /** In the current generation (false: removed, kept until nip gc finds it unreferenced). */
  active?: boolean
  /** Pinned: a GC root, and upgrades do not move Current away from it. */
  pinned?: boolean
  /** The result of the last nip verify, when one ran since it was grafted. */
  integrity?: IntegrityState
  verifiedAt?: string
}

export type IntegrityState = 'VERIFIED' | 'MODIFIED' | 'TAMPERED' | 'MISSING'

/** A program version's place in a generation. */
export type MemberState = 'current' | 'grafted' | 'absent'

export interface GenerationChange {
  name: string
  version: string
  before: MemberState
  after: MemberState
}

export interface GenerationSummary {
  id: number
  /** The generation this one was made from (what nip rollback returns to); null for the first. */
  parent: number | null
  createdAt: string
  command: string
  kind: string
  current: boolean
  /** For a rollback: the generation whose set it restored. */
  restores?: number
  changes: GenerationChange[]
}

export interface GenerationDiff {
  from: number
  to: number
  changes: GenerationChange[]
}

export interface GenerationsDeleteResult {
  deleted: number[]
  /** Generation memberships released (programs they alone kept become gc candidates). */
  released: number
  kept: number[]
}

export interface RollbackResult {
  dryRun: boolean
  from: number
  /** The generation whose set was restored. */
  to: number
  /** The new generation recorded by the rollback (absent for a dry run or when nothing changed). */
  generation?: number
  changes: GenerationChange[]
  links: { added: number; removed: number }
  transaction?: string
}

export interface GcOptions {
  dryRun?: boolean
  /** Stop once the blobs freed reach this many bytes (whole programs at a time; shared content counts when its last holder goes). */
  maxFreed?: number
  /** Also scan every program and the whole CAS and report drift (slow; the cross-check). */
  verify?: boolean
  command?: string
}

export interface GcResult {
  dryRun: boolean
  programs: { name: string; version: string; size: number }[]
  /** Blobs deleted (or that would be) and their bytes: what the store actually frees. */
  blobs: number
  bytes: number
  /** True when --max-freed stopped early with garbage left. */
  truncated: boolean
  durationMs: number
  drift?: GcDrift
  transaction?: string
}

export interface GcDrift {
  /** Blobs on disk that no blobs row knows (collected unless --dry-run). */
  orphanBlobs: string[]
  orphanBytes: number
  /** Blobs rows with references whose file is missing from the CAS. */
  missingBlobs: string[]
  /** Program directories on disk the DB does not know. */
  unknownTrees: string[]
  /** Programs whose stored reference count differs from its spans and pin. */
  refDrift: { name: string; version: string; stored: number; actual: number }[]
}

export interface VerifyOptions {
  repair?: boolean
  command?: string
}

export interface VerifyProblem {
  path: string
  problem: 'modified' | 'tampered' | 'missing' | 'blob-damaged'
  repaired?: boolean
}

export interface VerifiedProgram {
  name: string
  version: string
  state: IntegrityState
  files: number
  problems: VerifyProblem[]
  /** State after --repair. */
  repairedState?: IntegrityState
}

export interface VerifyResult {
  programs: VerifiedProgram[]
  ok: boolean
}

export interface PinResult {
  name: string
  version: string
  pinned: boolean
  changed: boolean
}

export interface AutoremoveResult {
  dryRun: boolean
  /** Dependency programs no explicit program needs (the plan). */
  plan: { name: string; version: string }[]
  removed: { name: string; version: string }[]
  transaction?: string
}

export interface InstallResult {
  plan: Plan
  dryRun: boolean
  grafted: ProgramSummary[]
  skipped: { name: string; version: string; reason: string }[]
  links: { added: number }
  transaction?: string
}

export interface RemoveOptions {
  dryRun?: boolean
  /** Also remove the programs that depend on the named ones. */
  cascade?: boolean
  /** Remove even when other programs depend on it. */
  force?: boolean
  command?: string
  /** The generation's kind (autoremove records its own). */
  kind?: string
}

export interface RemoveResult {
  dryRun: boolean
  removed: { name: string; version: string }[]
  links: { removed: number }
  transaction?: string
}

export interface SwitchResult {
  name: string
  from: string | null
  to: string
  links: { added: number; removed: number }
}

export interface InfoResult {
  name: string
  installed: ProgramSummary[]
  dependencies: { name: string; constraint: string }[]
  requiredBy: string[]
  /** Candidates from sources (best first), with the manifest of the best one when available. */
  candidates: PackageRef[]
  manifest?: PackageManifest
}

export interface OwnsResult {
  path: string
  kind: 'link' | 'file' | 'settings' | 'none'
  owner?: { name: string; version: string }
  target?: string
}

export interface SourceStatus extends AdapterStatus {
  priority: number
  enabled: boolean
}

export interface StatusResult {
  root: string
  programs: number
  versions: number
  links: number
  blobs: number
  casBytes: number
  lock: { held: boolean; pid?: number; command?: string; since?: string; stale?: boolean }
  interruptedTransactions: { id: string; kind: string; state: string; startedAt: string }[]
  lastTransaction?: LogRecord
}

export interface LogRecord {
  time: string
  transaction: string
  command: string
  action: string
  outcome: 'ok' | 'failed' | 'recovered' | 'rolled-back'
  programs: { name: string; version: string; change: string }[]
  error?: { code: string; message: string }
  durationMs?: number
}

export type DoctorSeverity = 'ok' | 'warning' | 'error'

export interface DoctorFinding {
  check:
    | 'broken-links'
    | 'unowned-links'
    | 'db-drift'
    | 'interrupted-transaction'
    | 'stale-lock'
    | 'cas-refcounts'
    | 'blob-hash'
    | 'program-refcounts'
    | 'generations'
    | 'trash'
    | 'program-health'
    | 'unsafe-state'
    | 'unsafe-paths'
  severity: DoctorSeverity
  message: string
  paths?: string[]
  fixable: boolean
  fixed?: boolean
}

export interface DoctorReport {
  healthy: boolean
  findings: DoctorFinding[]
}

export type { SearchHit }
