// A/B interleaved runs of nip against its peers (not a test): for each pair of runs, the CPU
// (user + sys), system time, peak resident memory and minor page faults of each side, from
// /usr/bin/time, and the ratio of each, as the median of the rounds with their range.
//   node bench/ab.mjs [ROUNDS=5] [SCENARIO...]
// Scenarios (all by default):
//   start    node -e 0, nip --version and nip list (an 8-program root)
//   small    a 300-file / 5 MB pacman package: nip install vs pacman -U --root, fresh roots
//   wide     5,000 files / 200 MB, the same
//   many     50,000 files / 100 MB, the same
//   upgrade  a 5,000-file / 200 MB package 1.0, then 2.0 with 95% of its files identical: the
//            second install against the first, nip against pacman -U, and the store's growth
// With NIP_BENCH_BASE=<another checkout, built> every scenario also runs that checkout's nip,
// interleaved in the same rounds (the code before a change against the code after it).
// Each timed run starts after `sync` and a pause (so no run pays for the previous one's
// writeback) in a new root; all roots are deleted at exit. Needs pacman, bsdtar, zstd and GNU
// time. Wall times on a machine shared with other work vary by ±30 %: read CPU, faults and
// memory first, and the ranges.
import { execFileSync, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const NIP = path.join(HERE, 'packages', 'cli', 'bin', 'run.js')
const BASE = process.env.NIP_BENCH_BASE ? path.join(path.resolve(process.env.NIP_BENCH_BASE), 'packages', 'cli', 'bin', 'run.js') : undefined
const args = process.argv.slice(2)
const ROUNDS = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 5
const SCENARIOS = args.length > 0 ? args : ['start', 'small', 'wide', 'many', 'upgrade']
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-bench-ab-'))
process.on('exit', () => fs.rmSync(WORK, { recursive: true, force: true }))
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130))

for (const tool of ['pacman', 'bsdtar', 'zstd', '/usr/bin/time']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`bench/ab.mjs needs ${tool}`)
    process.exit(2)
  }
}

/** One run of `argv` under GNU time: wall, cpu, sys (s), peak (MiB), minor faults. */
function timed(argv, opts = {}) {
  if (opts.settle !== false) {
    execFileSync('sync')
    spawnSync('sleep', ['1'])
  }
  const r = spawnSync('/usr/bin/time', ['-f', '@@ %e %U %S %M %R', ...argv], { encoding: 'utf8', env: { ...process.env, ...opts.env } })
  const line = r.stderr.split('\n').reverse().find((l) => l.startsWith('@@ '))
  if (r.status !== 0 || line === undefined) throw new Error(`${argv.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`)
  const [wall, user, sys, rssKiB, faults] = line.slice(3).split(' ').map(Number)
  return { wall, cpu: user + sys, sys, peak: rssKiB / 1024, faults }
}

const METRICS = [
  ['wall', 's', 3],
  ['cpu', 's', 3],
  ['sys', 's', 3],
  ['peak', 'MiB', 0],
  ['faults', '', 0],
]
const quantile = (xs, p) => {
  const a = [...xs].sort((x, y) => x - y)
  const i = p * (a.length - 1)
  const lo = Math.floor(i)
  return a[lo] + (a[Math.ceil(i)] - a[lo]) * (i - lo)
}
const spread = (xs, d) => `${quantile(xs, 0.5).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`

/** Prints each side's medians [min–max], then each side's per-round ratios to the first side's. */
function report(title, sides) {
  console.log(`\n${title} (${ROUNDS} rounds, interleaved; median [min–max]; machine shared with other work)`)
  for (const [name, runs] of sides) {
    console.log(`  ${name.padEnd(22)} ${METRICS.map(([k, unit, d]) => `${k} ${spread(runs.map((r) => r[k]), d)}${unit ? ' ' + unit : ''}`).join('  ')}`)
  }
  const [baseName, base] = sides[0]
  for (const [name, runs] of sides.slice(1)) {
    // GNU time counts CPU in 10 ms steps: a ratio to a side that took less is not shown.
    const ratio = (k) => (base.some((r) => r[k] < 0.01) ? 'n/a' : `${spread(runs.map((r, i) => r[k] / base[i][k]), 2)}x`)
    console.log(`  ${`${name} / ${baseName}`.padEnd(22)} ${METRICS.map(([k]) => `${k} ${ratio(k)}`).join('  ')}`)
  }
}

/** A pacman package of `files` files under usr/share/NAME (100 directories), with .PKGINFO and .MTREE. */
function makePackage(name, version, files, totalMiB, reuse) {
  const src = path.join(WORK, `${name}-${version}.src`)
  const dir = path.join(src, 'usr', 'share', name)
  const per = Math.floor((totalMiB * 1024 * 1024) / files)
  for (let i = 0; i < files; i++) {
    const sub = path.join(dir, `d${i % 100}`)
    if (i < 100) fs.mkdirSync(sub, { recursive: true })
    const file = path.join(sub, `f${i}`)
    // reuse(i): take file i from an earlier version's tree (identical content), else new bytes.
    if (reuse !== undefined && reuse.keep(i)) fs.linkSync(path.join(reuse.dir, `d${i % 100}`, `f${i}`), file)
    else fs.writeFileSync(file, crypto.randomBytes(per))
  }
  const size = execFileSync('du', ['-sb', src], { encoding: 'utf8' }).split('\t')[0]
  fs.writeFileSync(path.join(src, '.PKGINFO'), `pkgname = ${name}\npkgbase = ${name}\npkgver = ${version}-1\npkgdesc = bench\nbuilddate = 0\npackager = bench\nsize = ${size}\narch = x86_64\n`)
  const env = { ...process.env, LANG: 'C' }
  execFileSync('bsdtar', ['-czf', '.MTREE', '--format=mtree', '--options=!all,use-set,type,uid,gid,mode,time,size,sha256,link', '.PKGINFO', 'usr'], { cwd: src, env })
  const file = path.join(WORK, `${name}-${version}-1-x86_64.pkg.tar.zst`)
  execFileSync('sh', ['-c', `bsdtar -cf - .MTREE .PKGINFO usr | zstd -q -T0 -o "${file}"`], { cwd: src, env })
  return { file, tree: dir }
}

let rootNo = 0
function nipRoot() {
  const r = path.join(WORK, `nip-root-${rootNo++}`)
  fs.mkdirSync(path.join(r, 'etc', 'nip'), { recursive: true })
  fs.writeFileSync(path.join(r, 'etc', 'nip', 'nip.conf'), '[pacman]\nuse-host-config = false\n')
  return r
}
function pacmanRoot() {
  const r = path.join(WORK, `pacman-root-${rootNo++}`)
  fs.mkdirSync(path.join(r, 'var', 'lib', 'pacman'), { recursive: true })
  return r
}
const PACMAN_CONF = path.join(WORK, 'pacman.conf')
fs.writeFileSync(PACMAN_CONF, '[options]\nSigLevel = Never\n')
const nipInstall = (root, file, bin = NIP) => ['node', bin, '--root', root, 'install', '--source', 'pacman', file, '--yes', '--quiet']
const pacmanU = (root, file) => ['pacman', '-U', '--root', root, '--dbpath', path.join(root, 'var', 'lib', 'pacman'), '--config', PACMAN_CONF, '--noconfirm', '--noscriptlet', '-dd', file]

/** Bytes and files under `dir` (the store). */
function usage(dir) {
  let bytes = 0
  let files = 0
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) {
        bytes += fs.lstatSync(p).size
        files++
      }
    }
  }
  if (fs.existsSync(dir)) walk(dir)
  return { bytes, files }
}

function packageScenario(title, name, files, mib) {
  const { file } = makePackage(name, '1.0', files, mib)
  const nip = []
  const pacman = []
  const base = []
  for (let i = 0; i < ROUNDS; i++) {
    nip.push(timed(nipInstall(nipRoot(), file)))
    pacman.push(timed(pacmanU(pacmanRoot(), file)))
    if (BASE !== undefined) base.push(timed(nipInstall(nipRoot(), file, BASE)))
  }
  report(title, [
    ['pacman -U', pacman],
    ['nip install', nip],
    ...(BASE !== undefined ? [['nip install (base)', base]] : []),
  ])
  if (BASE !== undefined) report(`${title}: this checkout against the base`, [['nip install (base)', base], ['nip install', nip]])
}

for (const scenario of SCENARIOS) {
  if (scenario === 'start') {
    const root = nipRoot()
    const pkgs = []
    for (let i = 1; i <= 8; i++) pkgs.push(makePackage(`start${i}`, '1.0', 10, 1).file)
    execFileSync('node', [NIP, '--root', root, 'install', '--source', 'pacman', ...pkgs, '--yes', '--quiet'])
    const node = []
    const version = []
    const list = []
    const baseVersion = []
    const baseList = []
    for (let i = 0; i < ROUNDS * 3; i++) {
      node.push(timed(['node', '-e', '0'], { settle: false }))
      version.push(timed(['node', NIP, '--version'], { settle: false }))
      list.push(timed(['node', NIP, '--root', root, 'list'], { settle: false }))
      if (BASE === undefined) continue
      baseVersion.push(timed(['node', BASE, '--version'], { settle: false }))
      baseList.push(timed(['node', BASE, '--root', root, 'list'], { settle: false }))
    }
    report('start-up', [
      ['node -e 0', node],
      ['nip --version', version],
      ['nip list (8 programs)', list],
      ...(BASE !== undefined ? [['base: nip --version', baseVersion], ['base: nip list', baseList]] : []),
    ])
  } else if (scenario === 'small') packageScenario('300 files / 5 MB', 'bench-small', 300, 5)
  else if (scenario === 'wide') packageScenario('5,000 files / 200 MB', 'bench-wide', 5000, 200)
  else if (scenario === 'many') packageScenario('50,000 files / 100 MB', 'bench-many', 50000, 100)
  else if (scenario === 'upgrade') {
    const one = makePackage('bench-up', '1.0', 5000, 200)
    // 2.0: every 20th file new, the other 95% identical to 1.0.
    const two = makePackage('bench-up', '2.0', 5000, 200, { dir: one.tree, keep: (i) => i % 20 !== 0 })
    const first = []
    const second = []
    const pFirst = []
    const pSecond = []
    const growth = []
    const baseFirst = []
    const baseSecond = []
    for (let i = 0; i < ROUNDS; i++) {
      const root = nipRoot()
      first.push(timed(nipInstall(root, one.file)))
      const before = usage(path.join(root, 'var', 'nip', 'cas'))
      second.push(timed(nipInstall(root, two.file)))
      const after = usage(path.join(root, 'var', 'nip', 'cas'))
      growth.push((after.bytes - before.bytes) / Math.max(before.bytes, 1))
      if (BASE !== undefined) {
        const b = nipRoot()
        baseFirst.push(timed(nipInstall(b, one.file, BASE)))
        baseSecond.push(timed(nipInstall(b, two.file, BASE)))
      }
      const p = pacmanRoot()
      pFirst.push(timed(pacmanU(p, one.file)))
      pSecond.push(timed(pacmanU(p, two.file)))
    }
    report('upgrade 1.0 → 2.0, 5,000 files / 200 MB, 95% identical', [
      ['nip: first install', first],
      ['nip: 2.0 over 1.0', second],
    ])
    report('the same, against pacman', [
      ['pacman -U 2.0 over 1.0', pSecond],
      ['nip: 2.0 over 1.0', second],
    ])
    if (BASE !== undefined) {
      report('the base checkout: upgrade against its first install', [
        ['base: first install', baseFirst],
        ['base: 2.0 over 1.0', baseSecond],
      ])
      report('2.0 over 1.0: this checkout against the base', [
        ['base: 2.0 over 1.0', baseSecond],
        ['nip: 2.0 over 1.0', second],
      ])
    }
    console.log(`  store growth from 2.0 (bytes, share of the store after 1.0): ${spread(growth.map((g) => g * 100), 1)} %`)
    report('(for reference) first installs', [
      ['pacman -U 1.0', pFirst],
      ['nip: first install', first],
    ])
  } else {
    console.error(`unknown scenario ${scenario}`)
    process.exit(2)
  }
}
