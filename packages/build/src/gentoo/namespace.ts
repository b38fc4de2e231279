/**
 * The bubblewrap namespace `emerge` runs in (docs/gentoo.md). Portage runs as a Gentoo Prefix
 * installation whose EPREFIX is the program's own version directory,
 * `/Programs/<name>/<version>` (PORTAGE_OVERRIDE_EPREFIX), so econf's `--prefix=${EPREFIX}/usr`
 * and the cmake and meson eclasses compile that directory in. With that EPREFIX, Portage reads its
 * configuration from `${EPREFIX}/etc/portage` and keeps its package database, cache and state
 * under `${EPREFIX}/var` and `${ROOT}${EPREFIX}/var`, and it still chowns to the `portage` user
 * (250:250). So:
 * - the namespace's `/` is a tmpfs holding the host's /usr, /bin, /lib… read-only (nothing is
 *   bound onto a path of the host, so no mount point is ever created on the host);
 * - `/Programs` is a directory of that tmpfs: the EPREFIX directory in it is the work
 *   directory's `eprefix` (writable: `etc/portage` holds make.conf, repos.conf, make.profile,
 *   sets.conf and profile/package.provided; `var` Portage's state), and each grafted dependency's
 *   version directory is a read-only bind at its own `/Programs/<name>/<version>` (the root's
 *   `Programs` itself is not bound, so the EPREFIX never lands on a path of the root);
 * - `/etc` is a directory of read-only binds of the host's /etc entries, except passwd and group
 *   (the namespace's own, with `portage`) and `portage` (absent: Portage reads the EPREFIX's);
 * - `/var` is the work directory's private `var`; `/tmp` a tmpfs; no network (own net namespace),
 *   own pid/ipc/uts; `--die-with-parent`: a killed nip kills emerge;
 * - Portage's source tree and the repository are read-only at /nip/portage and /nip/repo; the
 *   work directory (ROOT, PORTAGE_TMPDIR, logs) at /nip/work; the distfiles and the kept binary
 *   packages at /nip/distfiles and /nip/packages;
 * - a `gtar → tar` shim first on PATH; Debian's /usr/bin/python3;
 * - `${EPREFIX}/etc/portage/profile/package.provided` lists what nip or the host provides
 *   (deps.ts), so emerge runs without --nodeps and its resolver checks the dependencies; the
 *   programs nip grafted for them are seen through a link view at /nip/work/deps into their
 *   version directories, named in make.conf's CPPFLAGS/CFLAGS/LDFLAGS/PKG_CONFIG_PATH/PREROOTPATH.
 * Portage's chown to 250 needs a real uid map: emerge runs as root in these namespaces (no user
 * namespace), with Portage's own sandboxes off (FEATURES) — bubblewrap is the isolation.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import path from 'node:path'
import { HOST_SYSTEM_DIRS, hostDirArgs } from '../bwrap.js'
import { planLinkView } from '../linkView.js'
import { NipError } from '@nip/core'
import { mkdirp, symlinkConfined, writeFileConfined } from '../buildFs.js'
import type { GentooPlan } from './gentooBuild.js'

const OWN_ETC = new Set(['passwd', 'group', 'portage', 'make.conf', 'make.profile'])

export const INSIDE = { portage: '/nip/portage', repo: '/nip/repo', work: '/nip/work', distfiles: '/nip/distfiles', packages: '/nip/packages', deps: '/nip/work/deps', programs: '/Programs' }

/** The EPREFIX of a build: the version directory nip grafts the program into, `/Programs/<name>/<version>`. */
export function eprefixOf(name: string, version: string): string {
  return `${INSIDE.programs}/${name}/${version}`
}

/** The EPREFIX Portage runs with when it only reads metadata (no program is built). */
const METADATA_EPREFIX = '/nip/eprefix'

/** The link view's directories the compiler, linker and pkg-config are pointed at. */
const VIEW_PARTS = ['bin', 'include', 'lib', 'lib64', 'share/pkgconfig']

/**
 * Flags through which a build sees the programs nip grafted for its dependencies: the link view
 * at /nip/work/deps (linkView.ts) holds their executables, headers, libraries and pkg-config
 * files, pointing into /Programs (the root's programs, read-only).
 */
export function dependencyConf(withDeps: boolean): string[] {
  if (!withDeps) return []
  const d = INSIDE.deps
  return [
    `CPPFLAGS="\${CPPFLAGS} -I${d}/include"`,
    `CFLAGS="\${CFLAGS} -I${d}/include"`,
    `CXXFLAGS="\${CXXFLAGS} -I${d}/include"`,
    `LDFLAGS="\${LDFLAGS} -L${d}/lib64 -L${d}/lib -Wl,-rpath-link,${d}/lib64:${d}/lib"`,
    `PKG_CONFIG_PATH="${d}/lib64/pkgconfig:${d}/lib/pkgconfig:${d}/share/pkgconfig"`,
    `PREROOTPATH="${d}/bin"`,
  ]
}

export function makeConf(jobs: number, withDeps = false): string {
  return [
    '# written by nip build --source gentoo',
    'FEATURES="-sandbox -usersandbox -userpriv -userfetch -ipc-sandbox -network-sandbox -pid-sandbox -mount-sandbox -news buildpkg binpkg-multi-instance"',
    'BINPKG_FORMAT="gpkg"',
    'BINPKG_COMPRESS="zstd"',
    `MAKEOPTS="-j${jobs}"`,
    'FETCHCOMMAND="false"',
    'RESUMECOMMAND="false"',
    'ACCEPT_LICENSE="*"',
    'ACCEPT_KEYWORDS="amd64 ~amd64"',
    `DISTDIR="${INSIDE.distfiles}"`,
    `PKGDIR="${INSIDE.packages}"`,
    `PORTAGE_TMPDIR="${INSIDE.work}/tmp"`,
    `PORT_LOGDIR="${INSIDE.work}/logs"`,
    'NOCOLOR="true"',
    ...dependencyConf(withDeps),
    '',
  ].join('\n')
}

/** Writes the work directory's EPREFIX directory (configuration and state) and private directories (through the confined layer). */
export function prepareWork(work: string, cfg: { portage: string; profileName: string }, jobs: number, deps: { provided?: string; programsDir?: string; depPrograms?: string[] } = {}): void {
  const conf = path.join(work, 'eprefix', 'etc', 'portage')
  for (const d of ['tmp', 'logs', 'root', 'var', 'shims', 'deps', 'eprefix/var', 'eprefix/etc/portage/repos.conf', 'eprefix/etc/portage/profile']) mkdirp(path.join(work, d))
  const programs = deps.depPrograms ?? []
  writeFileConfined(path.join(conf, 'make.conf'), makeConf(jobs, programs.length > 0))
  // What nip or the host provides: Portage's resolver counts these as installed.
  writeFileConfined(path.join(conf, 'profile/package.provided'), deps.provided ?? '')
  if (programs.length > 0 && deps.programsDir) {
    for (const link of planLinkView(deps.programsDir, programs, VIEW_PARTS)) {
      mkdirp(path.dirname(path.join(work, 'deps', link.path)))
      symlinkConfined(link.target, path.join(work, 'deps', link.path))
    }
  }
  writeFileConfined(path.join(conf, 'repos.conf/gentoo.conf'), `[DEFAULT]\nmain-repo = gentoo\n\n[gentoo]\nlocation = ${INSIDE.repo}\n`)
  writeFileConfined(path.join(conf, 'sets.conf'), readFileSync(path.join(cfg.portage, 'cnf', 'sets', 'portage.conf')))
  symlinkConfined(`${INSIDE.repo}/profiles/${cfg.profileName}`, path.join(conf, 'make.profile'))
  symlinkConfined('/usr/bin/tar', path.join(work, 'shims/gtar'))
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').replace(/\n?$/, '\n') : '')
  const passwd = read('/etc/passwd').split('\n').filter((l) => !l.startsWith('portage:')).join('\n')
  const group = read('/etc/group').split('\n').filter((l) => !l.startsWith('portage:')).join('\n')
  writeFileConfined(path.join(work, 'passwd'), `${passwd.replace(/\n*$/, '\n')}portage:x:250:250:portage:/var/tmp/portage:/bin/false\n`)
  writeFileConfined(path.join(work, 'group'), `${group.replace(/\n*$/, '\n')}portage:x:250:portage\n`)
}

/**
 * The version directories the link view of the dependencies points into (`/Programs/<name>/<version>`
 * inside the namespace, each with the host directory bound there read-only). A dependency in the
 * EPREFIX's own directory is ERR_NIP_BAD_SPEC (it cannot be both the build's output and its input).
 */
export function dependencyDirs(programsDir: string, depPrograms: readonly string[], eprefix: string): { inside: string; host: string }[] {
  const out = new Map<string, string>()
  const add = (host: string) => {
    const rel = path.relative(programsDir, host).split(path.sep)
    if (rel.length < 2 || rel[0] === '..' || rel[0] === '') return
    const inside = `${INSIDE.programs}/${rel[0]}/${rel[1]}`
    if (!out.has(inside)) out.set(inside, path.join(programsDir, rel[0], rel[1]))
  }
  for (const p of depPrograms) {
    try {
      add(realpathSync(p.includes('/') ? path.join(programsDir, p) : path.join(programsDir, p, 'Current')))
    } catch {
      // not grafted: nothing to bind
    }
  }
  for (const link of planLinkView(programsDir, depPrograms, VIEW_PARTS)) add(path.join(programsDir, link.target.slice(INSIDE.programs.length + 1)))
  const dirs = [...out].map(([inside, host]) => ({ inside, host })).sort((a, b) => (a.inside < b.inside ? -1 : a.inside > b.inside ? 1 : 0))
  const clash = dirs.find((d) => d.inside === eprefix || eprefix.startsWith(`${d.inside}/`) || d.inside.startsWith(`${eprefix}/`))
  if (clash) {
    throw new NipError('ERR_NIP_BAD_SPEC', `The build's own directory ${eprefix} is also a dependency's (${clash.inside}).`, {
      hint: 'A program cannot be built into the version directory one of its dependencies occupies; remove or rename that program first.',
      data: { eprefix, dependency: clash.inside },
    })
  }
  return dirs
}

export function namespaceArgs(opts: { work: string; portage: string; repo: string; distdir: string; pkgdir: string; eprefix: string; depDirs?: { inside: string; host: string }[] }): string[] {
  const args = ['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent', '--new-session', '--hostname', 'nip-gentoo', '--tmpfs', '/']
  args.push(...hostDirArgs(HOST_SYSTEM_DIRS))
  args.push('--dir', '/etc')
  for (const n of readdirSync('/etc').sort()) if (!OWN_ETC.has(n)) args.push('--ro-bind', `/etc/${n}`, `/etc/${n}`)
  args.push('--ro-bind', path.join(opts.work, 'passwd'), '/etc/passwd', '--ro-bind', path.join(opts.work, 'group'), '/etc/group')
  args.push('--bind', path.join(opts.work, 'var'), '/var', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp')
  args.push('--ro-bind', opts.portage, INSIDE.portage, '--ro-bind', opts.repo, INSIDE.repo, '--bind', opts.work, INSIDE.work, '--bind', opts.distdir, INSIDE.distfiles, '--bind', opts.pkgdir, INSIDE.packages)
  // /Programs lives in the namespace's tmpfs: the grafted dependencies' version directories
  // (read-only, where the link view points) and the EPREFIX (the work directory's, writable).
  args.push('--dir', INSIDE.programs)
  for (const d of opts.depDirs ?? []) args.push('--ro-bind', d.host, d.inside)
  args.push('--bind', path.join(opts.work, 'eprefix'), opts.eprefix)
  return args
}

export async function runEmerge(opts: { plan: GentooPlan; work: string; distdir: string; pkgdir: string; logFd: number; jobs: number; provided?: string; programsDir?: string; depPrograms?: string[]; signal?: AbortSignal; bwrap?: string }): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }> {
  if (process.getuid?.() !== 0) {
    throw new NipError('ERR_NIP_EXECUTOR_MISSING', 'Gentoo builds run emerge as root in a bubblewrap namespace (Portage chowns to its portage user), and nip is not running as root.', {
      hint: 'Run nip build --source gentoo as root, or use a container (nip bootstrap info container); docs/gentoo.md.',
      data: { uid: process.getuid?.() },
    })
  }
  const { plan } = opts
  prepareWork(opts.work, { portage: plan.tool.portage, profileName: plan.ebuild.profileName }, opts.jobs, { ...(opts.provided ? { provided: opts.provided } : {}), ...(opts.programsDir ? { programsDir: opts.programsDir } : {}), ...(opts.depPrograms ? { depPrograms: opts.depPrograms } : {}) })
  const eprefix = plan.eprefix
  const depDirs = opts.depPrograms && opts.depPrograms.length > 0 && opts.programsDir ? dependencyDirs(opts.programsDir, opts.depPrograms, eprefix) : []
  const env: Record<string, string> = { ...baseEnv(eprefix), USE: plan.ebuild.useWords.join(' ') }
  const args = namespaceArgs({ work: opts.work, portage: plan.tool.portage, repo: plan.tool.repo, distdir: opts.distdir, pkgdir: opts.pkgdir, eprefix, depDirs })
  args.push('--chdir', INSIDE.work, '--clearenv')
  for (const [k, v] of Object.entries(env)) args.push('--setenv', k, v)
  args.push('--', '/usr/bin/python3', `${INSIDE.portage}/bin/emerge`, '--buildpkg', '--oneshot', '--quiet-build=y', '--color=n', `=${plan.ebuild.md.cpv.cpv}`)
  return new Promise((resolve, reject) => {
    const child = spawn(opts.bwrap ?? 'bwrap', args, { stdio: ['ignore', opts.logFd, opts.logFd], ...(opts.signal ? { signal: opts.signal } : {}) })
    child.on('error', (e) => (opts.signal?.aborted ? resolve({ exitCode: null, signal: 'SIGTERM' }) : reject(e)))
    child.on('close', (exitCode, signal) => resolve({ exitCode, signal }))
  })
}

function baseEnv(eprefix: string): Record<string, string> {
  return {
    PORTAGE_OVERRIDE_EPREFIX: eprefix,
    PATH: `${INSIDE.work}/shims:/usr/bin:/bin:/usr/sbin:/sbin`,
    HOME: `${INSIDE.work}/tmp`,
    PYTHONPATH: `${INSIDE.portage}/lib`,
    ROOT: `${INSIDE.work}/root`,
    LC_ALL: 'C.UTF-8',
    TZ: 'UTC',
    TERM: 'dumb',
  }
}

const AUX_GET = 'import json, sys, portage\ncpv, keys = sys.argv[1], sys.argv[2:]\nvals = portage.portdb.aux_get(cpv, keys)\nprint(json.dumps(dict(zip(keys, vals))))\n'

/**
 * An ebuild's metadata read by Portage itself (`portage.portdb.aux_get`), so what inherited
 * eclasses add (IUSE, REQUIRED_USE, dependencies) is seen: in the same namespace as emerge, with
 * `work` as its work directory (the caller makes and removes it). null when not running as root
 * (the namespace needs it, as emerge does).
 */
export function portageMetadata(opts: { work: string; portage: string; repo: string; profileName: string; cpv: string; keys: readonly string[]; bwrap?: string }): Record<string, string> | null {
  if (process.getuid?.() !== 0) return null
  prepareWork(opts.work, { portage: opts.portage, profileName: opts.profileName }, 1)
  for (const d of ['distfiles', 'packages']) mkdirp(path.join(opts.work, d))
  const args = namespaceArgs({ work: opts.work, portage: opts.portage, repo: opts.repo, distdir: path.join(opts.work, 'distfiles'), pkgdir: path.join(opts.work, 'packages'), eprefix: METADATA_EPREFIX })
  args.push('--chdir', INSIDE.work, '--clearenv')
  for (const [k, v] of Object.entries(baseEnv(METADATA_EPREFIX))) args.push('--setenv', k, v)
  let out: string
  try {
    out = execFileSync(opts.bwrap ?? 'bwrap', [...args, '--', '/usr/bin/python3', '-c', AUX_GET, opts.cpv, ...opts.keys], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
  } catch (e) {
    const tail = ((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n').slice(-4).join(' ')
    throw new NipError('ERR_NIP_BAD_PACKAGE', `Portage cannot read the metadata of ${opts.cpv}: ${tail}`, { hint: 'The ebuild or an eclass it inherits fails at global scope, or an inherited eclass is missing from the repository; nothing was built.', data: { cpv: opts.cpv } })
  }
  try {
    const raw = JSON.parse(out.trim().split('\n').pop() ?? '') as Record<string, string>
    for (const k of Object.keys(raw)) raw[k] = String(raw[k]).replace(/\s+/g, ' ').trim()
    if (!raw.EAPI) raw.EAPI = '0'
    return raw
  } catch {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `Portage answered no metadata for ${opts.cpv}.`, { data: { cpv: opts.cpv, output: out.slice(-400) } })
  }
}
