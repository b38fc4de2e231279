/**
 * Build logs: one file per build, `<log-dir>/build/<name>/<version>-<fingerprint[0:16]>.log`,
 * holding each step's command line and output. A failed build quotes its last lines; `nip logs
 * --build NAME` shows the newest log of NAME.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

export function buildLogDir(logDir: string, name: string): string {
  return path.join(logDir, 'build', name)
}

export function buildLogPath(logDir: string, name: string, version: string, fingerprint: string): string {
  return path.join(buildLogDir(logDir, name), `${version}-${fingerprint.slice(0, 16)}.log`)
}

/** The last `n` lines of a file (the whole file is read: logs are text of modest size). */
export function tailLines(file: string, n: number): string[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return []
  }
  const lines = text.replace(/\n$/, '').split('\n')
  return lines.slice(Math.max(0, lines.length - n))
}

export interface BuildLogInfo {
  name: string
  file: string
  modified: string
  size: number
}

/** The build logs of a program, newest first. */
export function listBuildLogs(logDir: string, name: string): BuildLogInfo[] {
  const dir = buildLogDir(logDir, name)
  let names: string[]
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.log'))
  } catch {
    return []
  }
  return names
    .map((n) => {
      const file = path.join(dir, n)
      const st = statSync(file)
      return { name: n, file, modified: st.mtime.toISOString(), size: st.size, mtimeMs: st.mtimeMs }
    })
    .sort((a, b) => b.mtimeMs - a.mtimeMs || b.name.localeCompare(a.name))
    .map(({ mtimeMs: _m, ...rest }) => rest)
}
