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
}

export interface PlannedProgram {
  name: string
  version: string
  source: AdapterId
  packageId: string
  /** Why it is in the plan: the user asked, or a dependency of another planned program. */
  reason: 'explicit' | 'dependency'
  requiredBy: string[]
  downloadSize: number
  installedSize: number
  /** Set when the program is already grafted at a satisfying version (not fetched again). */
  skip?: 'already-installed'
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
  check: 'broken-links' | 'unowned-links' | 'db-drift' | 'interrupted-transaction' | 'stale-lock' | 'cas-refcounts'
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
