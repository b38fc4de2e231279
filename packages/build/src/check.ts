/**
 * `nip build --check` (Nix's `--check`, Guix's `--rounds=2`): build the same plan twice, in two
 * different work directories one after the other, hashing the outputs without grafting, and
 * compare the tree digests. The result lists every path whose content, mode or type differs.
 */
import type { BuildPlan, RunOptions } from './builder.js'
import { runBuild } from './builder.js'
import { buildLogPath } from './buildLog.js'

export interface CheckResult {
  name: string
  version: string
  fingerprint: string
  reproducible: boolean
  digests: [string, string]
  /** Paths that differ (content, type or mode), or exist in one build only. */
  differing: { path: string; first: string | null; second: string | null }[]
  logs: [string, string]
  seconds: [number, number]
}

export async function checkBuild(plan: BuildPlan, opts: Omit<RunOptions, 'cas' | 'logFile' | 'workLabel'>): Promise<CheckResult> {
  const base = buildLogPath(opts.layout.logDir, plan.name, plan.version, plan.fingerprint).replace(/\.log$/, '')
  const first = await runBuild(plan, { ...opts, logFile: `${base}.check-1.log`, workLabel: `${plan.name}-check-1` })
  const second = await runBuild(plan, { ...opts, logFile: `${base}.check-2.log`, workLabel: `${plan.name}-check-2-longer-path` })
  const modes = (entries: typeof first.entries) => new Map(entries.map((e) => [e.path, `${e.type}:${e.mode.toString(8)}:${e.blob ?? e.target ?? ''}`]))
  const a = modes(first.entries)
  const b = modes(second.entries)
  const differing: CheckResult['differing'] = []
  for (const p of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    if (a.get(p) !== b.get(p)) differing.push({ path: p, first: a.get(p) ?? null, second: b.get(p) ?? null })
  }
  return {
    name: plan.name,
    version: plan.version,
    fingerprint: plan.fingerprint,
    reproducible: first.digest === second.digest,
    digests: [first.digest, second.digest],
    differing,
    logs: [first.log, second.log],
    seconds: [first.seconds, second.seconds],
  }
}
