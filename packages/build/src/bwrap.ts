/**
 * The bubblewrap executor (the default): each step runs in fresh namespaces (`--unshare-all`:
 * no network, own pid/ipc/uts), as uid/gid 1000 in its own user namespace with every capability
 * dropped, on a file system made of the host's /usr (and the /bin, /lib… that lead into it)
 * read-only, the few /etc files a toolchain reads (alternatives, ld.so cache), a private /tmp,
 * /dev and /proc, and the build directory at /build — the only writable place. The environment is
 * cleared and set from the plan; the step runs under `umask 022`. `--die-with-parent`: a killed
 * nip kills its build.
 *
 * As root, the sandbox's uid 1000 is mapped onto root outside (bubblewrap maps the caller), so the
 * files the build writes belong to the caller, as they must for nip to read them back.
 */
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, lstatSync, readlinkSync } from 'node:fs'
import type { Executor, SandboxMounts, StepOutcome } from './executor.js'
import type { ExecutorIdentity } from './fingerprint.js'
import type { PlannedStep } from './plan.js'
import { SANDBOX } from './plan.js'
import { toolchainVersions } from './toolchain.js'

const TOP_LEVEL = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']
/** `/usr` and the top-level directories beside it that a namespace with the host's system shows read-only. */
export const HOST_SYSTEM_DIRS: readonly string[] = ['usr', ...TOP_LEVEL]

/**
 * The host's top-level directories, read-only, as bubblewrap arguments: a directory is bound, a
 * symlink (merged /usr: /bin -> usr/bin) is made again as the same symlink, a missing one skipped.
 */
export function hostDirArgs(names: readonly string[]): string[] {
  const args: string[] = []
  for (const d of names) {
    const p = `/${d}`
    let st
    try {
      st = lstatSync(p)
    } catch {
      continue
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(p), p)
    else if (st.isDirectory()) args.push('--ro-bind', p, p)
  }
  return args
}
const ETC_FILES = ['/etc/alternatives', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/passwd', '/etc/group', '/etc/nsswitch.conf']

export class BwrapExecutor implements Executor {
  readonly id = 'bwrap'
  private versionLine: string | null = null

  constructor(private readonly program = 'bwrap') {}

  async probe(): Promise<{ ok: boolean; detail: string }> {
    try {
      this.versionLine ??= execFileSync(this.program, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).trim()
    } catch {
      return { ok: false, detail: `${this.program} (bubblewrap) is not installed. Install it (Debian: apt-get install bubblewrap).` }
    }
    try {
      execFileSync(this.program, [...this.baseArgs(), '--', '/usr/bin/true'], { stdio: 'ignore', timeout: 10_000 })
    } catch (e) {
      return { ok: false, detail: `${this.program} cannot create a sandbox here (${(e as Error).message.split('\n')[0]}). Unprivileged user namespaces must be allowed (sysctl kernel.unprivileged_userns_clone=1).` }
    }
    return { ok: true, detail: this.versionLine }
  }

  async identity(): Promise<ExecutorIdentity> {
    this.versionLine ??= execFileSync(this.program, ['--version'], { encoding: 'utf8' }).trim()
    return { id: this.id, version: this.versionLine, toolchain: toolchainVersions() }
  }

  /** The sandbox without the build's own mounts. */
  private baseArgs(): string[] {
    const args = ['--unshare-all', '--unshare-user', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--uid', '1000', '--gid', '1000', '--hostname', 'nip-build']
    args.push('--ro-bind', '/usr', '/usr')
    args.push(...hostDirArgs(TOP_LEVEL))
    for (const f of ETC_FILES) if (existsSync(f)) args.push('--ro-bind', f, f)
    args.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp')
    return args
  }

  args(step: PlannedStep, mounts: SandboxMounts, env: Record<string, string>): string[] {
    const args = this.baseArgs()
    args.push('--bind', mounts.workDir, SANDBOX.build)
    for (const s of mounts.sources) args.push('--ro-bind', s.host, `${SANDBOX.sources}/${s.name}`)
    for (const v of mounts.views) if (existsSync(v.host)) args.push('--ro-bind', v.host, v.inside)
    args.push('--chdir', step.cwd, '--clearenv')
    for (const [k, v] of Object.entries({ ...env, ...(step.env ?? {}) })) args.push('--setenv', k, v)
    args.push('--', '/bin/sh', '-c', 'umask 022 && exec "$@"', 'nip-step', ...step.argv)
    return args
  }

  run(step: PlannedStep, opts: { mounts: SandboxMounts; env: Record<string, string>; logFd: number; signal?: AbortSignal }): Promise<StepOutcome> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.program, this.args(step, opts.mounts, opts.env), { stdio: ['ignore', opts.logFd, opts.logFd], ...(opts.signal ? { signal: opts.signal } : {}) })
      child.on('error', (e) => (opts.signal?.aborted ? resolve({ exitCode: null, signal: 'SIGTERM' }) : reject(e)))
      child.on('close', (exitCode, signal) => resolve({ exitCode, signal }))
    })
  }
}
