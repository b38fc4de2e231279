/**
 * Mutation fuzzing helpers: a seeded PRNG, a mutator (bit flips, truncation, splicing) and a
 * timeout that turns a hang into a failure. Every mutation test uses these, so the same seed
 * tries the same cases on every run.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { NipError, type SourceAdapter } from '@nip/core'
import { checkConsistency, listTree, openNip } from './scenario.js'

/** mulberry32: a small seeded PRNG, so every run tries the same cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** One mutation of `input`: 1–4 bit flips, a truncation, or a splice of up to 512 bytes of itself. */
export function mutate(input: Buffer, rnd: () => number): { data: Buffer; how: string } {
  const kind = Math.floor(rnd() * 3)
  const data = Buffer.from(input)
  if (kind === 0) {
    const flips = 1 + Math.floor(rnd() * 4)
    const at: number[] = []
    for (let i = 0; i < flips; i++) {
      const pos = Math.floor(rnd() * data.length)
      data[pos] ^= 1 << Math.floor(rnd() * 8)
      at.push(pos)
    }
    return { data, how: `flip@${at.join(',')}` }
  }
  if (kind === 1) {
    const len = Math.floor(rnd() * data.length)
    return { data: data.subarray(0, len), how: `truncate@${len}` }
  }
  const from = Math.floor(rnd() * data.length)
  const to = Math.floor(rnd() * data.length)
  const len = Math.floor(rnd() * Math.min(512, data.length - from))
  const out = Buffer.concat([data.subarray(0, to), data.subarray(from, from + len), data.subarray(to)])
  return { data: out, how: `splice ${from}+${len}@${to}` }
}

/** `p`, or a rejection naming `label` when it has not settled within `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${label} did not finish in ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([p, t])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The outcome of a case that threw: a NipError's code, and for the dispatcher's
 * ERR_NIP_NOT_FOUND the codes the adapters' resolve failed with
 * (`ERR_NIP_NOT_FOUND<ERR_NIP_BAD_PACKAGE`). Anything else is an uncaught exception and throws,
 * naming `label`. The dispatcher turns any exception of an adapter's resolve into a "tried" line,
 * so a line that is not a NipError's (`failed: …`) throws as well.
 */
export function mutationOutcome(e: unknown, label: string): string {
  if (!(e instanceof NipError)) throw new Error(`${label}: not a NipError: ${(e as Error)?.stack ?? String(e)}`)
  const tried = ((e.data as { tried?: unknown }).tried ?? []) as { source: string; outcome: string }[]
  for (const t of tried) if (t.outcome.startsWith('failed:')) throw new Error(`${label}: the ${t.source} adapter's resolve threw a non-NipError: ${t.outcome}`)
  const inner = tried.map((t) => /^(ERR_NIP_[A-Z_]+):/.exec(t.outcome)?.[1]).filter((c) => c !== undefined)
  return e.code === 'ERR_NIP_NOT_FOUND' && inner.length > 0 ? `${e.code}<${inner.join(',')}` : e.code
}

/** Staging or trash directories visible under `<root>/Programs` (names starting with '.'). */
export function visibleStaging(root: string): string[] {
  const programs = path.join(root, 'Programs')
  const out: string[] = []
  for (const name of fs.existsSync(programs) ? fs.readdirSync(programs) : []) {
    if (name.startsWith('.')) out.push(name)
    const dir = path.join(programs, name)
    if (fs.lstatSync(dir).isDirectory()) for (const v of fs.readdirSync(dir)) if (v.startsWith('.')) out.push(`${name}/${v}`)
  }
  return out
}

/** Paths under `parent` outside the directories named in `allowed` (the root, the inputs). */
export function writtenOutside(parent: string, allowed: string[]): string[] {
  return listTree(parent).filter((p) => !allowed.some((a) => p === a || p.startsWith(`${a}/`)))
}

export interface InstallMutationsOptions {
  /** Tally key, e.g. ".pkg.tar.zst". */
  format: string
  seed: number
  cases: number
  /** The file name the mutated package is written as (core routes a local file by its content; the name is what a user would give). */
  fileName: string
  /** One mutated package per call. */
  make: (rnd: () => number) => Promise<{ data: Buffer; how: string }>
  /** The source under test, its id and its config table. */
  adapter: () => SourceAdapter
  sourceId: string
  table: Record<string, unknown>
  /** Asserts that a program that did install holds exactly the package's files. */
  assertGrafted: (root: string, name: string, version: string, label: string) => void
  /** Outcome counts, filled in. */
  tally: Record<string, number>
}

/**
 * Installs `cases` mutated packages as local files through the engine, each into a fresh state
 * of one root: every case ends installed (checked, then removed) or in a NipError; nothing is
 * written outside the root, no staging stays visible, and the store stays consistent.
 */
export async function installMutations(o: InstallMutationsOptions): Promise<void> {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), `nip-mut-${o.sourceId}-`))
  const root = path.join(parent, 'root')
  const input = path.join(parent, 'in')
  fs.mkdirSync(root)
  fs.mkdirSync(input)
  const file = path.join(input, o.fileName)
  const rnd = prng(o.seed)
  const count = (k: string): void => {
    o.tally[k] = (o.tally[k] ?? 0) + 1
  }
  try {
    for (let i = 0; i < o.cases; i++) {
      const { data, how } = await o.make(rnd)
      fs.writeFileSync(file, data)
      const label = `${o.format} case ${i} (${how})`
      const { nip } = await openNip(root, [o.adapter()], { sources: [{ id: o.sourceId, enabled: true, priority: 10, table: o.table }] })
      let installed = false
      try {
        await withTimeout(nip.install([file], { yes: true } as never), 20000, label)
        installed = true
        count('installed')
        const current = nip.list().filter((p) => p.current)
        assert.equal(current.length, 1, label)
        o.assertGrafted(root, current[0]!.name, current[0]!.version, label)
        const c = await checkConsistency(nip)
        assert.deepEqual(c.problems, [], `after ${label}`)
        await nip.remove(current.map((p) => p.name))
      } catch (e) {
        if (installed) throw e
        count(mutationOutcome(e, label))
      } finally {
        nip.close()
      }
      assert.deepEqual(writtenOutside(parent, ['root', 'in']), [], `${label} wrote outside the root`)
      assert.deepEqual(visibleStaging(root), [], `${label} left staging visible`)
      // A removed version stays in the store (until gc) and would be grafted again from there
      // without reading the next package file: start the next case from an empty root.
      if (installed) {
        fs.rmSync(root, { recursive: true, force: true })
        fs.mkdirSync(root)
      }
      if (i % 10 === 9 || i === o.cases - 1) {
        const { nip: check } = await openNip(root, [])
        try {
          const c = await checkConsistency(check)
          assert.deepEqual(c.problems, [], `after ${label}`)
          assert.deepEqual(check.list().filter((p) => p.current), [])
        } finally {
          check.close()
        }
      }
    }
  } finally {
    fs.rmSync(parent, { recursive: true, force: true })
  }
}
