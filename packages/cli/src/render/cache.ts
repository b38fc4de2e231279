/** Human output of the cache commands. */
import type { IndexEntry, PushResult } from '@nip/oci'
import type { Style } from './style.js'

export interface CachePushResult {
  registry: string
  programs: PushResult[]
}

export interface CacheKeygenResult {
  name: string
  secretFile: string
  publicFile: string
  publicKey: string
}

export interface CacheListResult {
  registries: { registry: string; programs: IndexEntry[] }[]
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(1)} ${units[i]}`
}

export function renderCachePush(r: CachePushResult, style: Style): string {
  if (r.programs.length === 0) return `Nothing to push to ${r.registry}.`
  const lines = r.programs.map((p) => `${style.green('pushed')} ${style.bold(p.name)} ${p.version} → ${r.registry}:${p.tag}  ${p.layers} layers (${p.uploaded} sent, ${p.present} present${p.mounted ? `, ${p.mounted} mounted` : ''}), ${bytes(p.sent)} of ${bytes(p.size)} sent${p.signedBy ? `, signed by ${p.signedBy}` : style.yellow(', unsigned')}`)
  return lines.join('\n')
}

export function renderCacheKeygen(r: CacheKeygenResult, style: Style): string {
  return [
    `${style.green('secret key')} ${r.secretFile} (keep it private)`,
    `${style.green('public key')} ${r.publicFile}`,
    '',
    'On the machines that push:',
    `  [oci]\n  secret-key-files = [${JSON.stringify(r.secretFile)}]`,
    'On every machine that pulls:',
    `  [oci]\n  trusted-public-keys = [${JSON.stringify(r.publicKey)}]`,
  ].join('\n')
}

export function renderCacheList(r: CacheListResult, style: Style): string {
  const out: string[] = []
  for (const reg of r.registries) {
    out.push(style.bold(reg.registry) + style.dim(` (${reg.programs.length} programs)`))
    for (const p of reg.programs) out.push(`  ${p.name} ${p.version}  ${style.dim(p.tag)}  ${p.files} files, ${bytes(p.size)}${p.key ? `, signed by ${p.key}` : style.yellow(', unsigned')}`)
  }
  return out.join('\n')
}
