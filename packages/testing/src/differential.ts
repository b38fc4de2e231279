/**
 * Differential testing against the ecosystem's real tools: a seeded random source, shell quoting,
 * and a batch runner that feeds many commands to one `sh` per chunk so thousands of tool calls
 * stay fast.
 */
import { spawnSync } from 'node:child_process'

export const LONG_TESTS = process.env.NIP_LONG_TESTS === '1'

export interface Seeded {
  int(n: number): number
  pick<T>(xs: readonly T[]): T
  chance(p: number): boolean
}

/** A small seeded PRNG (mulberry32): the same seed gives the same inputs on every machine. */
export function seeded(seed: number): Seeded {
  let s = seed >>> 0
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  }
}

/** A POSIX shell single-quoted word (any characters but NUL). */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/** Whether `cmd args` runs and exits 0 (e.g. `dpkg --version`). */
export function hasTool(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' })
  return r.error === undefined && r.status === 0
}

/**
 * Run one shell snippet per input; each must print exactly one line on stdout. Returns the lines in
 * input order. Snippets go to `sh` in chunks through stdin.
 */
export function runBatched(snippets: string[], chunk = 2000): string[] {
  const out: string[] = []
  for (let k = 0; k < snippets.length; k += chunk) {
    const part = snippets.slice(k, k + chunk)
    const r = spawnSync('sh', ['-s'], { input: part.join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 << 20 })
    if (r.status !== 0) throw new Error(`batch shell failed: ${r.stderr}`)
    const lines = r.stdout.split('\n')
    lines.pop()
    if (lines.length !== part.length) throw new Error(`batch shell printed ${lines.length} lines for ${part.length} inputs`)
    out.push(...lines)
  }
  return out
}
