/** Human rendering of the store-lifecycle commands: generations, rollback, gc, pins, verify, autoremove. */
import type { AutoremoveResult, GcResult, GenerationChange, GenerationDiff, GenerationSummary, GenerationsDeleteResult, PinResult, RollbackResult, VerifyResult } from '@nip/core'
import { formatBytes, formatTable, plural } from './format.js'
import type { Style } from './style.js'

export function renderChange(c: GenerationChange, style: Style): string {
  const sign = c.after === 'absent' ? style.red('-') : c.before === 'absent' ? style.green('+') : style.yellow('~')
  return `${sign} ${c.name} ${c.version} (${c.before} → ${c.after})`
}

export function renderGenerations(gens: GenerationSummary[], style: Style): string {
  if (gens.length === 0) return 'No generations yet.'
  const rows = gens.map((g) => [
    g.current ? style.green(`${g.id} *`) : String(g.id),
    g.createdAt.replace('T', ' ').slice(0, 19),
    g.parent === null ? '-' : String(g.parent),
    g.command,
    g.changes.map((c) => `${c.after === 'absent' ? '-' : c.before === 'absent' ? '+' : '~'}${c.name}@${c.version}`).join(' ') || style.dim('(no change)'),
  ])
  return formatTable(rows, { header: ['Gen', 'Date', 'Parent', 'Command', 'Changes'] })
}

export function renderGenerationDiff(d: GenerationDiff, style: Style): string {
  if (d.changes.length === 0) return `Generations ${d.from} and ${d.to} hold the same programs.`
  return [`From generation ${d.from} to ${d.to}:`, ...d.changes.map((c) => `  ${renderChange(c, style)}`)].join('\n')
}

export function renderGenerationsDelete(r: GenerationsDeleteResult): string {
  if (r.deleted.length === 0) return `No generation deleted (kept: ${r.kept.join(', ')}).`
  return `Deleted ${plural(r.deleted.length, 'generation')} (${r.deleted.join(', ')}); kept ${r.kept.join(', ')}. Run nip gc to free what only they held.`
}

export function renderRollback(r: RollbackResult, style: Style): string {
  const head = r.dryRun ? `Would roll back from generation ${r.from} to the set of generation ${r.to}:` : r.generation ? `Rolled back from generation ${r.from} to the set of generation ${r.to} (now generation ${r.generation}):` : `Generation ${r.from} already holds the set of generation ${r.to}.`
  return [head, ...r.changes.map((c) => `  ${renderChange(c, style)}`)].join('\n')
}

export function renderGc(r: GcResult, style: Style): string {
  const lines = [
    `${r.dryRun ? 'Would free' : 'Freed'} ${formatBytes(r.bytes)}: ${plural(r.programs.length, 'program tree')}, ${plural(r.blobs, 'blob')} (${r.durationMs} ms).`,
    ...r.programs.map((p) => `  ${style.red('-')} ${p.name} ${p.version}`),
  ]
  if (r.truncated) lines.push(style.yellow('Stopped at --max-freed; run nip gc again for the rest.'))
  if (r.drift) {
    const d = r.drift
    lines.push(`Full scan: ${d.orphanBlobs.length} orphan blob(s) (${formatBytes(d.orphanBytes)}), ${d.missingBlobs.length} missing blob(s), ${d.unknownTrees.length} unknown tree(s), ${d.refDrift.length} reference count drift(s).`)
    for (const t of d.unknownTrees) lines.push(`  unknown: ${t}`)
    for (const k of d.missingBlobs) lines.push(`  missing blob: ${k}`)
    for (const x of d.refDrift) lines.push(`  ${x.name} ${x.version}: refs ${x.stored}, actual ${x.actual} (nip doctor --fix)`)
  }
  return lines.join('\n')
}

export function renderPin(r: PinResult): string {
  if (!r.changed) return `${r.name} ${r.version} was already ${r.pinned ? 'pinned' : 'unpinned'}.`
  return r.pinned ? `Pinned ${r.name} ${r.version}: gc keeps it and upgrades leave it Current.` : `Unpinned ${r.name} ${r.version}.`
}

export function renderVerify(r: VerifyResult, style: Style): string {
  const color = (s: string) => (s === 'VERIFIED' ? style.green(s) : s === 'MODIFIED' ? style.yellow(s) : style.red(s))
  const lines: string[] = []
  for (const p of r.programs) {
    lines.push(`${color(p.state)}  ${p.name} ${p.version}${p.repairedState ? ` → ${color(p.repairedState)} after repair` : ''}`)
    for (const x of p.problems) lines.push(`  ${x.problem}: ${x.path}${x.repaired ? style.green(' (repaired)') : ''}`)
  }
  return lines.length ? lines.join('\n') : 'Nothing to verify.'
}

export function renderAutoremove(r: AutoremoveResult, style: Style): string {
  if (r.plan.length === 0) return 'No dependency is unneeded.'
  const head = r.dryRun ? 'Would remove (no explicit program needs them):' : 'Removed (no explicit program needed them):'
  return [head, ...r.plan.map((p) => `  ${style.red('-')} ${p.name} ${p.version}`)].join('\n')
}
