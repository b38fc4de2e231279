/** Runs the real nip executable in a child process, with a temporary root and HOME. */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const CLI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const BIN = path.join(CLI_DIR, 'bin', 'run.js')
export const REPO_DIR = path.resolve(CLI_DIR, '..', '..')

export interface NipRun {
  status: number | null
  stdout: string
  stderr: string
}

export interface Sandbox {
  root: string
  home: string
  nip(args: string[], opts?: { env?: Record<string, string>; nodeArgs?: string[] }): NipRun
  /** The single JSON document on stdout. */
  json<T = any>(run: NipRun): T
  cleanup(): void
}

export function sandbox(): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-cli-root-'))
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-cli-home-'))
  const baseEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(NIP_|NODE_ENV$|NODE_OPTIONS$|NO_COLOR$|XDG_)/.test(k)) baseEnv[k] = v
  return {
    root,
    home,
    nip(args, opts = {}) {
      const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...args], {
        cwd: home,
        encoding: 'utf8',
        env: { ...baseEnv, HOME: home, ...opts.env },
      })
      return { status: r.status, stdout: r.stdout, stderr: r.stderr }
    },
    json(run) {
      const lines = run.stdout.split('\n').filter((l) => l !== '')
      if (lines.length !== 1) throw new Error(`expected one JSON line on stdout, got ${lines.length}:\n${run.stdout}\nstderr:\n${run.stderr}`)
      return JSON.parse(lines[0])
    },
    cleanup() {
      fs.rmSync(root, { recursive: true, force: true })
      fs.rmSync(home, { recursive: true, force: true })
    },
  }
}
