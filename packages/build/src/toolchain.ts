/** The host toolchain's versions (first line of each tool's --version), part of the fingerprint. */
import { execFileSync } from 'node:child_process'

const TOOLS: [string, string[]][] = [
  ['cc', ['--version']],
  ['c++', ['--version']],
  ['ld', ['--version']],
  ['make', ['--version']],
  ['tar', ['--version']],
]

let cached: Record<string, string> | null = null

export function toolchainVersions(): Record<string, string> {
  if (cached) return cached
  const out: Record<string, string> = {}
  for (const [tool, args] of TOOLS) {
    try {
      out[tool] = execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).split('\n')[0].trim()
    } catch {
      out[tool] = 'absent'
    }
  }
  cached = out
  return out
}
