/**
 * `nip build --source nix FILE`: `nix-build` (the nix tools nip bootstrap grafted, else the
 * host's) on a local expression, in a bubblewrap namespace whose /nix is the root's private store
 * (`<cache>/build/nix/store`): nothing is written to the host's /nix, there is no network, and
 * the host's /usr is read-only. The output closure is then published with `nix copy` to a signed
 * file:// binary cache in the same directory (a key pair made once with
 * `nix-store --generate-binary-cache-key`), and the CLI grafts the output from that cache through
 * the Nix adapter (`nix:<store path>` with that cache as substituter and its key trusted): the
 * adapter's NAR reader, relocation and one program per store path — no second graft path.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { HOST_SYSTEM_DIRS, hostDirArgs } from './bwrap.js'
import { NipError, type Layout, type Reporter } from '@nip/core'
import { buildPaths } from './builder.js'
import { appendLog, closeLog, mkdirp, openLog, writeFileConfined } from './buildFs.js'
import { buildLogDir } from './buildLog.js'

const INSIDE = { dir: '/nip/nix', src: '/nip/src' }

export interface NixBuildResult {
  outPaths: string[]
  cacheUrl: string
  publicKey: string
  log: string
}

export function nixPaths(layout: Layout) {
  const base = path.join(buildPaths(layout).base, 'nix')
  return { base, store: path.join(base, 'store'), cache: path.join(base, 'binary-cache'), conf: path.join(base, 'conf'), home: path.join(base, 'home'), sk: path.join(base, 'keys', 'secret'), pk: path.join(base, 'keys', 'public') }
}

function namespace(opts: { base: string; store: string; srcDir: string; toolDir?: string; programsDir: string }): string[] {
  const args = ['--unshare-all', '--uid', '0', '--gid', '0', '--die-with-parent', '--new-session', '--tmpfs', '/']
  args.push(...hostDirArgs(HOST_SYSTEM_DIRS))
  args.push('--dir', '/etc')
  for (const f of ['/etc/passwd', '/etc/group', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/nsswitch.conf', '/etc/ssl']) if (existsSync(f)) args.push('--ro-bind', f, f)
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--bind', opts.base, INSIDE.dir, '--bind', path.join(opts.store, 'nix'), '/nix', '--ro-bind', opts.srcDir, INSIDE.src)
  // Tools nip grafted run from the root's Programs at the same path.
  if (opts.toolDir) args.push('--ro-bind', opts.programsDir, opts.programsDir)
  return args
}

function run(args: string[], argv: string[], env: Record<string, string>, fd: number, signal?: AbortSignal): Promise<{ code: number | null; stdout: string }> {
  const full = [...args, '--clearenv']
  for (const [k, v] of Object.entries(env)) full.push('--setenv', k, v)
  full.push('--', ...argv)
  return new Promise((resolve, reject) => {
    const child = spawn('bwrap', full, { stdio: ['ignore', 'pipe', fd], ...(signal ? { signal } : {}) })
    let stdout = ''
    child.stdout!.on('data', (d) => {
      stdout += d
      appendLog(fd, String(d))
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout }))
  })
}

/** The directory holding nix-build: the nix tools nip grafted (`nix-bin`) when present, else the host's. */
export async function nixBuild(opts: { file: string; layout: Layout; reporter: Reporter; toolBin?: string; signal?: AbortSignal }): Promise<NixBuildResult> {
  const file = path.resolve(opts.file)
  if (!existsSync(file)) throw new NipError('ERR_NIP_NOT_FOUND', `The Nix expression ${opts.file} does not exist.`, { hint: 'Give a .nix file: nip build --source nix ./default.nix', data: { file } })
  const p = nixPaths(opts.layout)
  for (const d of [p.store, path.join(p.store, 'nix'), p.cache, p.conf, p.home, path.dirname(p.sk)]) mkdirp(d)
  writeFileConfined(path.join(p.conf, 'nix.conf'), 'build-users-group =\nsandbox = false\nexperimental-features = nix-command\nsubstituters =\n')
  const ns = namespace({ base: p.base, store: p.store, srcDir: path.dirname(file), programsDir: opts.layout.programsDir, ...(opts.toolBin ? { toolDir: opts.toolBin } : {}) })
  const bin = (cmd: string) => (opts.toolBin ? path.join(opts.toolBin, cmd) : cmd)
  const env = { PATH: `${opts.toolBin ? `${opts.toolBin}:` : ''}/usr/bin:/bin`, HOME: `${INSIDE.dir}/home`, XDG_CACHE_HOME: `${INSIDE.dir}/home/.cache`, NIX_CONF_DIR: `${INSIDE.dir}/conf`, TZ: 'UTC', LC_ALL: 'C' }
  const logDir = buildLogDir(opts.layout.logDir, path.basename(file, '.nix'))
  const log = path.join(logDir, `nix-${new Date().toISOString().replace(/[:.]/g, '-')}.log`)
  const fd = openLog(log)
  try {
    appendLog(fd, `# nip build --source nix ${file}\n`)
    const exec = async (what: string, argv: string[]) => {
      opts.signal?.throwIfAborted()
      appendLog(fd, `\n## ${what}: ${argv.join(' ')}\n`)
      const r = await run([...ns, '--chdir', INSIDE.src], argv, env, fd, opts.signal)
      if (r.code !== 0) {
        throw new NipError('ERR_NIP_BUILD_FAILED', `${what} failed (exit status ${r.code}). Full log: ${log}`, { hint: 'Read the log; nothing was grafted.', data: { file, log, step: what, exitCode: r.code } })
      }
      return r.stdout
    }
    if (!existsSync(p.sk)) await exec('generate the binary cache key', [bin('nix-store'), '--generate-binary-cache-key', 'nip-build-1', `${INSIDE.dir}/keys/secret`, `${INSIDE.dir}/keys/public`])
    opts.reporter.emit({ type: 'info', message: `nix-build ${path.basename(file)}` })
    const out = await exec('nix-build', [bin('nix-build'), `${INSIDE.src}/${path.basename(file)}`, '--no-out-link'])
    const outPaths = out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('/nix/store/'))
    if (outPaths.length === 0) throw new NipError('ERR_NIP_BUILD_FAILED', `nix-build of ${file} printed no output path. Full log: ${log}`, { hint: 'Read the log; nothing was grafted.', data: { file, log } })
    await exec('nix copy', [bin('nix'), 'copy', '--to', `file://${INSIDE.dir}/binary-cache?secret-key=${INSIDE.dir}/keys/secret&compression=xz`, ...outPaths])
    return { outPaths, cacheUrl: `file://${p.cache}`, publicKey: readFileSync(p.pk, 'utf8').trim(), log }
  } finally {
    closeLog(fd)
  }
}
