/**
 * Helpers for scenario tests: a configuration for a temporary root, a Nip opened on it with
 * given adapters, and the store consistency check used after every crash test
 * (DB ≡ trees ≡ links ≡ reference counts, no staging visible).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Nip, RecordingReporter, type LoadedConfig, type NipConfig, type SourceAdapter, type DoctorReport } from '@nip/core'

export function testConfig(root: string, overrides: Partial<NipConfig> = {}): LoadedConfig {
  const config: NipConfig = {
    root,
    programsDir: 'Programs',
    linksDir: 'System/Links',
    settingsDir: 'System/Settings',
    stateDir: 'var/nip',
    logDir: 'var/log/nip',
    casDir: 'var/nip/cas',
    cacheDir: 'var/nip/cache',
    parallelDownloads: 4,
    lockTimeout: 5,
    maxArchiveEntries: 100000,
    maxArchiveSize: 1024 ** 3,
    sources: [],
    ...overrides,
  }
  return { config, origins: {}, files: [] }
}

export async function tempRoot(prefix = 'nip-test-'): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), prefix))
}

export async function openNip(root: string, adapters: SourceAdapter[], overrides: Partial<NipConfig> = {}): Promise<{ nip: Nip; reporter: RecordingReporter }> {
  const reporter = new RecordingReporter()
  const sources = adapters.map((a, i) => ({ id: a.id, enabled: true, priority: 10 + i, table: {} }))
  const nip = await Nip.open({ loaded: testConfig(root, { sources, ...overrides }), reporter, adapters })
  return { nip, reporter }
}

export interface ConsistencyReport {
  doctor: DoctorReport
  /** Staging or trash directories still visible under Programs. */
  staging: string[]
  problems: string[]
}

/** Everything that must hold after any nip run, complete or killed-then-recovered. */
export async function checkConsistency(nip: Nip): Promise<ConsistencyReport> {
  const doctor = await nip.doctor()
  const problems = doctor.findings.filter((f) => f.severity !== 'ok').map((f) => `${f.check}: ${f.message} ${(f.paths ?? []).join(' ')}`)
  const staging: string[] = []
  const programs = nip.layout.programsDir
  for (const name of safeReaddir(programs)) {
    for (const v of safeReaddir(path.join(programs, name))) if (v.startsWith('.')) staging.push(`${name}/${v}`)
  }
  if (staging.length) problems.push(`staging visible: ${staging.join(', ')}`)
  // Every program version on disk is one the DB knows (nothing half-grafted shows as a program).
  const known = new Set(nip.list({ all: true }).map((p) => `${p.name}/${p.version}`))
  for (const name of safeReaddir(programs)) {
    for (const v of safeReaddir(path.join(programs, name))) {
      if (v.startsWith('.') || v === 'Current' || v === 'Settings') continue
      if (!known.has(`${name}/${v}`)) problems.push(`unregistered program directory ${name}/${v}`)
    }
  }
  return { doctor, staging, problems }
}

function safeReaddir(d: string): string[] {
  try {
    return fs.readdirSync(d)
  } catch {
    return []
  }
}

/** Every path under `dir` (relative), for "nothing written outside the root" checks. */
export function listTree(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string, rel: string) => {
    for (const e of safeReaddir(d)) {
      const abs = path.join(d, e)
      const r = rel ? `${rel}/${e}` : e
      out.push(r)
      const st = fs.lstatSync(abs)
      if (st.isDirectory()) walk(abs, r)
    }
  }
  walk(dir, '')
  return out.sort()
}
