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
  /**
   * Runs nip. Commands that ask before changing anything get --yes unless `ask` is set (then
   * `input` is their standard input; end of input answers no).
   */
  nip(args: string[], opts?: { env?: Record<string, string>; nodeArgs?: string[]; ask?: boolean; input?: string }): NipRun
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
      const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...(opts.ask ? args : withYes(args))], {
        cwd: home,
        ...(opts.input !== undefined ? { input: opts.input } : {}),
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

/** The commands that ask before changing anything. */
export const ASKING = new Set(['install', 'graft', 'remove', 'upgrade', 'autoremove', 'build', 'rollback'])

/** `args` with --yes (before a `--`) when its command asks and no --yes is there. */
export function withYes(args: string[]): string[] {
  const command = args.find((a) => !a.startsWith('-'))
  if (command === undefined || !ASKING.has(command) || args.includes('--yes') || args.includes('-y')) return args
  const dashes = args.indexOf('--')
  return dashes === -1 ? [...args, '--yes'] : [...args.slice(0, dashes), '--yes', ...args.slice(dashes)]
}
