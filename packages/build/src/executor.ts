/**
 * The executor contract: one build step at a time in an isolated environment with one policy —
 * no network (sources are fetched before), the host toolchain read-only, only the build directory
 * writable, a fixed uid, a fixed environment (plan.ts: SOURCE_DATE_EPOCH, TZ=UTC, LC_ALL=C, HOME,
 * -ffile-prefix-map) and umask 022. The build directory is mounted at /build, the source archives
 * read-only at /build/sources, the root's /Programs read-only at /Programs, and a link view of the
 * declared dependencies at /build/deps (linkView.ts).
 */
import type { PlannedStep } from './plan.js'
import type { ExecutorIdentity } from './fingerprint.js'

export interface SandboxMounts {
  /** Host directory mounted read-write at /build. */
  workDir: string
  /** Host files mounted read-only at /build/sources/<name>. */
  sources: { host: string; name: string }[]
  /** Host directories mounted read-only at the same path inside (e.g. the root's /Programs at /Programs). */
  views: { host: string; inside: string }[]
}

export interface StepOutcome {
  exitCode: number | null
  signal: NodeJS.Signals | null
}

export interface Executor {
  readonly id: string
  /** Whether the executor can run here; `detail` says how to get it when it cannot. */
  probe(): Promise<{ ok: boolean; detail: string }>
  identity(): Promise<ExecutorIdentity>
  run(step: PlannedStep, opts: { mounts: SandboxMounts; env: Record<string, string>; logFd: number; signal?: AbortSignal }): Promise<StepOutcome>
}
