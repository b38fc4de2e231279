/** Helpers of the bootstrap and gentoo build tests: running nip without blocking the loopback mirror, the gentoo fixtures. */
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Mirror } from '@nip/testing'

const HERE = path.dirname(fileURLToPath(import.meta.url))
export const REPO = path.resolve(HERE, '..', '..', '..', '..')
export const BIN = path.join(REPO, 'packages', 'cli', 'bin', 'run.js')
/** The project's shared gentoo fixtures beside the checkout (Portage's source snapshot, a minimal ebuild repository). */
export const SHARED_GENTOO = path.resolve(REPO, '..', 'shared', 'gentoo')

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

export interface Run {
  status: number | null
  stdout: string
  stderr: string
  json: any
}

/** Runs nip without blocking this process (the loopback mirror is served from it). */
export async function runNip(root: string, home: string, args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const r = await runAsync(process.execPath, [BIN, ...args, '--root', root], { cwd: home, env: { ...process.env, HOME: home, NIP_CONFIG: '', ...extraEnv } })
  let json: any = null
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '')
  } catch {
    json = null
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json }
}

export function runAsync(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/** A bootstrap recipe for gentoo naming Portage's snapshot and a repository tarball on `mirror`. */
export function gentooRecipe(mirror: Mirror, portage: Buffer, repo: Buffer, opts: { badHash?: boolean } = {}): string {
  const ph = sha256(portage)
  return `name = "gentoo"
summary = "Portage and a minimal ebuild repository (test mirror)"
version = "3.0.82"
program = "gentoo-tools"
commands = ["emerge", "ebuild"]
needs = ["python3", "bwrap"]
alternatives = ["gentoo"]

[[source]]
role = "portage"
url = "${mirror.urlOf('/portage-a20ef27.tar.gz')}"
sha256 = "${opts.badHash ? ph.replace(/^./, (c) => (c === '0' ? '1' : '0')) : ph}"
strip = 1
into = "libexec/portage"

[[source]]
role = "repository"
url = "${mirror.urlOf('/gentoo-repo.tar.gz')}"
sha256 = "${sha256(repo)}"
strip = 1
into = "libexec/repo"

[manual]
steps = ["unpack Portage", "unpack the repository"]
`
}

/** The minimal ebuild repository as a tarball (prefix repo/), made from the shared fixture. */
export function repoTarball(dir: string): Buffer {
  const out = path.join(dir, 'gentoo-repo.tar.gz')
  execFileSync('tar', ['-C', SHARED_GENTOO, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-czf', out, 'repo'])
  return fs.readFileSync(out)
}


/**
 * Runs nip on a pseudo-terminal (`script -qec`), typing each answer when its prompt appears
 * (event-driven: no sleeps). Returns the terminal output.
 */
export function runOnTerminal(root: string, home: string, args: string[], answers: { prompt: RegExp; input: string }[]): Promise<{ status: number | null; stdout: string }> {
  const cmd = [process.execPath, BIN, ...args, '--root', root].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: home, env: { ...process.env, HOME: home, NIP_CONFIG: '', TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    const pending = [...answers]
    child.stdout.on('data', (d) => {
      stdout += d
      while (pending.length > 0 && pending[0].prompt.test(stdout)) {
        child.stdin.write(pending.shift()!.input)
      }
    })
    // A prompt that never comes must not hang the suite.
    const guard = setTimeout(() => child.kill('SIGKILL'), 600_000)
    child.on('error', reject)
    child.on('close', (status) => {
      clearTimeout(guard)
      resolve({ status, stdout: stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '') })
    })
  })
}
