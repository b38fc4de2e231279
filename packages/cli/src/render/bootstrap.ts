import type { InstallResult, RemoveResult } from '@nip/core'
import type { Detection } from '@nip/build'
import type { Style } from './style.js'

export type BootstrapView =
  | { kind: 'list'; tools: Detection[] }
  | { kind: 'info'; detection: Detection; manual: string[]; sources: { role: string; url: string; sha256: string; into: string }[]; packages: string[] }
  | { kind: 'recipes'; dirs: string[]; recipes: { tool: string; version: string; file: string; installable: boolean; sources: { role: string; url: string; sha256: string; signed: boolean }[]; packages: string[]; image?: { name: string; suite: string; variant: string; include: string[]; check: string[] } }[] }
  | { kind: 'update'; url: string; signed: boolean; files: { path: string; sha256: string }[]; dir: string }
  | { kind: 'remove'; tool: string; program: string; version: string; removed: RemoveResult; image?: { removed: boolean; detail: string } }
  | { kind: 'install'; detection: Detection; chosen: string | null; outcome: string; install?: InstallResult; manual?: string[] }

function where(d: Detection): string {
  switch (d.status) {
    case 'host':
      return d.image ? `in Podman (${d.image.name}, not made by nip)` : `on the host (${Object.values(d.host.commands).join(', ')})`
    case 'nip':
      return d.image?.record ? `installed by nip (${d.image.record.image}, image ${d.image.record.id.slice(0, 19)}${d.image.present ? '' : ' — missing from Podman'})` : `installed by nip (${d.program} ${d.nip.version})`
    case 'container':
      return `as a container image (${d.container.image})`
    default:
      return 'missing'
  }
}

function choices(d: Detection, style: Style): string[] {
  return d.choices.map((c) => `  ${c.id === d.recommended ? style.bold('*') : ' '} ${c.id.padEnd(16)} ${c.available ? c.label : style.dim(`${c.label} — not available`)}\n      ${style.dim(c.detail)}`)
}

export function renderBootstrap(v: BootstrapView, style: Style): string {
  switch (v.kind) {
    case 'list': {
      const w = Math.max(4, ...v.tools.map((t) => t.tool.length))
      return [style.bold(`${'TOOL'.padEnd(w)}  ${'VERSION'.padEnd(10)}  FOUND`), ...v.tools.map((t) => `${t.tool.padEnd(w)}  ${t.version.padEnd(10)}  ${t.status === 'missing' ? style.yellow('missing') : where(t)}`)].join('\n')
    }
    case 'info': {
      const d = v.detection
      const lines = [`${style.bold(d.tool)} ${d.version} — ${d.summary}`, `  recipe:  ${d.recipe}`, `  program: ${d.program}`, `  found:   ${where(d)}`]
      for (const [c, p] of Object.entries(d.host.commands)) lines.push(`  host ${c}: ${p ?? 'not on PATH'}`)
      for (const [c, p] of Object.entries(d.host.needs)) lines.push(`  needs ${c}: ${p ?? style.yellow('not on PATH')}`)
      for (const s of v.sources) lines.push(`  source ${s.role}: ${s.url} → ${s.into}\n    sha256 ${s.sha256}`)
      for (const p of v.packages) lines.push(`  package: ${p}`)
      if (d.image) {
        lines.push(`  image:   ${d.image.name}: ${d.image.detail}`)
        const r = d.image.record
        if (r) lines.push(`  made:    ${r.from === 'registry' ? `pulled from ${r.reference}${r.digest ? ` (${r.digest})` : ''}` : `debootstrap ${r.variant} ${r.suite} from ${r.mirror}`}; ${r.check.command.join(' ')}: ${r.check.output}`)
      }
      lines.push('  choices (* recommended):', ...choices(d, style))
      if (v.manual.length > 0) lines.push('  manual steps:', ...v.manual.map((m, i) => `    ${i + 1}. ${m}`))
      return lines.join('\n')
    }
    case 'recipes':
      return [
        `Searched in order: ${v.dirs.join(', ')}`,
        ...v.recipes.map((r) => [`${style.bold(r.tool)} ${r.version}${r.installable ? '' : style.dim(' (manual only)')}  ${r.file}`, ...r.sources.map((s) => `  ${s.role}: ${s.url}\n    sha256 ${s.sha256}${s.signed ? ' (signed)' : ''}`), ...r.packages.map((p) => `  package ${p}`), ...(r.image ? [`  image ${r.image.name}: debootstrap ${r.image.variant} ${r.image.suite}${r.image.include.length > 0 ? ` with ${r.image.include.join(', ')}` : ''} (or [build] container-image); check: ${r.image.check.join(' ')}`] : [])].join('\n')),
      ].join('\n')
    case 'update':
      return `Updated ${v.files.length} bootstrap recipe files from ${v.url}${v.signed ? ' (index signature verified)' : ' (no signing key configured: hashes only)'} into ${v.dir}.`
    case 'remove':
      return `Removed ${v.tool} (${v.program} ${v.version}) from this root.${v.image ? `\n${v.image.detail}` : ''}`
    case 'install': {
      const lines = [v.outcome]
      if (v.chosen === null && v.detection.status === 'missing') lines.push('Choices (* recommended):', ...choices(v.detection, style))
      if (v.manual) lines.push(...v.manual.map((m, i) => `  ${i + 1}. ${m}`))
      return lines.join('\n')
    }
  }
}
