/**
 * `nip build --check` (Nix's `--check`, Guix's `--rounds=2`): build the same plan twice, in two
 * different work directories one after the other, hashing the outputs without grafting, and
 * compare the tree digests. The result lists every path whose content, mode or type differs.
 * Where `diffoscope` is installed (reproducible-builds.org's tool; Debian's diffoscope-minimal is
 * enough) and the builds differ, it is run on the two installed trees and its text report is kept
 * beside the build logs; without it the differing paths are listed only.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ConfinedFs } from '@nip/core'
import type { BuildPlan, RunOptions } from './builder.js'
import { runBuild } from './builder.js'
import { buildLogPath } from './buildLog.js'
import { removeTree } from './buildFs.js'

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
  /** diffoscope's text report of the two trees (only when they differ and diffoscope is installed). */
  diffoscope: { report: string; truncated: boolean } | null
}

export interface CheckOptions extends Omit<RunOptions, 'cas' | 'logFile' | 'workLabel' | 'keptWork'> {
  /** The diffoscope to run; default: the first on PATH. null: do not run it. */
  diffoscope?: string | null
}

/** Reports larger than this are cut (diffoscope's own --max-report-size says so in the text). */
const REPORT_MAX = 8 * 1024 * 1024

export async function checkBuild(plan: BuildPlan, opts: CheckOptions): Promise<CheckResult> {
  const base = buildLogPath(opts.layout.logDir, plan.name, plan.version, plan.fingerprint).replace(/\.log$/, '')
  const tool = opts.diffoscope === undefined ? findOnPath('diffoscope') : opts.diffoscope
  const works: string[] = []
  const keptWork = tool ? (w: string) => void works.push(w) : undefined
  try {
    const first = await runBuild(plan, { ...opts, logFile: `${base}.check-1.log`, workLabel: `${plan.name}-check-1`, ...(keptWork ? { keptWork } : {}) })
    const second = await runBuild(plan, { ...opts, logFile: `${base}.check-2.log`, workLabel: `${plan.name}-check-2-longer-path`, ...(keptWork ? { keptWork } : {}) })
    const modes = (entries: typeof first.entries) => new Map(entries.map((e) => [e.path, `${e.type}:${e.mode.toString(8)}:${e.blob ?? e.target ?? ''}`]))
    const a = modes(first.entries)
    const b = modes(second.entries)
    const differing: CheckResult['differing'] = []
    for (const p of [...new Set([...a.keys(), ...b.keys()])].sort()) {
      if (a.get(p) !== b.get(p)) differing.push({ path: p, first: a.get(p) ?? null, second: b.get(p) ?? null })
    }
    const reproducible = first.digest === second.digest
    let diffoscope: CheckResult['diffoscope'] = null
    if (!reproducible && tool && works.length === 2) {
      const trees = works.map((w) => path.join(w, 'dest', plan.steps.prefix.replace(/^\/+/, '')))
      const { text, truncated } = await runDiffoscope(tool, trees[0], trees[1], opts.signal)
      const report = `${base}.check.diffoscope.txt`
      writeReport(report, text)
      diffoscope = { report, truncated }
    }
    return {
      name: plan.name,
      version: plan.version,
      fingerprint: plan.fingerprint,
      reproducible,
      digests: [first.digest, second.digest],
      differing,
      logs: [first.log, second.log],
      seconds: [first.seconds, second.seconds],
      diffoscope,
    }
  } finally {
    if (!opts.settings.keepWork) for (const w of works) removeTree(w)
  }
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue
    const p = path.join(dir, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // next
    }
  }
  return null
}

/** diffoscope exits 0 (same), 1 (differences, reported) or 2 (its own error, in the text). */
function runDiffoscope(tool: string, a: string, b: string, signal?: AbortSignal): Promise<{ text: string; truncated: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(tool, ['--text', '-', '--no-progress', '--exclude-directory-metadata=yes', '--max-report-size', String(REPORT_MAX), a, b], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' },
      ...(signal ? { signal } : {}),
    })
    const chunks: Buffer[] = []
    let size = 0
    let truncated = false
    const take = (c: Buffer) => {
      if (size >= REPORT_MAX) {
        truncated = true
        return
      }
      chunks.push(c)
      size += c.byteLength
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    const done = (extra: string) => resolve({ text: Buffer.concat(chunks).toString('utf8').replace(new RegExp(escape(a), 'g'), 'first').replace(new RegExp(escape(b), 'g'), 'second') + extra, truncated })
    child.on('error', (e) => done(`\n(diffoscope could not run: ${e.message})\n`))
    child.on('close', (code) => done(code === 0 || code === 1 ? '' : `\n(diffoscope exited with status ${code})\n`))
  })
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

function writeReport(file: string, text: string): void {
  const cfs = ConfinedFs.covering(file)
  if (cfs !== undefined) {
    cfs.mkdirp(path.dirname(file))
    cfs.replaceFile(file, text, 0o644)
  } else {
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, text, { mode: 0o644 })
  }
}
