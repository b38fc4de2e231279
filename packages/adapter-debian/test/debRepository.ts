/**
 * Test fixtures in the real formats: .deb files built with `dpkg-deb --build` (or assembled here
 * with an ar writer for hostile ones), an apt repository (Packages, Packages.xz, Release,
 * InRelease clear-signed by a throwaway GnuPG key) and an HTTP server for it on 127.0.0.1.
 */
import { arArchive } from '@nip/testing'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...opts.env }, input: opts.input, cwd: opts.cwd })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
export const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex')

export interface DebSpec {
  name: string
  version: string
  arch?: string
  fields?: Record<string, string>
  /** Files by archive path (without leading "./"); mode 0755 when the path is under bin/. */
  files: Record<string, string>
  symlinks?: Record<string, string>
  conffiles?: string[]
  scripts?: Record<string, string>
}

export function controlText(spec: DebSpec): string {
  const fields: Record<string, string> = {
    Package: spec.name,
    Version: spec.version,
    Architecture: spec.arch ?? 'amd64',
    Maintainer: 'Nip Tests <tests@localhost>',
    ...spec.fields,
    Description: `${spec.name} for the tests\n a package built by the nip test suite`,
  }
  return Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join('')
}

/** Build a .deb with dpkg-deb --build; returns its path. */
export function buildDeb(dir: string, spec: DebSpec): string {
  const src = path.join(dir, `src-${spec.name}-${spec.version}`)
  mkdirSync(path.join(src, 'DEBIAN'), { recursive: true })
  writeFileSync(path.join(src, 'DEBIAN', 'control'), controlText(spec))
  const sums: string[] = []
  for (const [p, content] of Object.entries(spec.files)) {
    const f = path.join(src, p)
    mkdirSync(path.dirname(f), { recursive: true })
    writeFileSync(f, content)
    chmodSync(f, /(^|\/)s?bin\//.test(p) ? 0o755 : 0o644)
    sums.push(`${md5(content)}  ${p}\n`)
  }
  for (const [p, target] of Object.entries(spec.symlinks ?? {})) {
    mkdirSync(path.dirname(path.join(src, p)), { recursive: true })
    run('ln', ['-s', target, path.join(src, p)])
  }
  writeFileSync(path.join(src, 'DEBIAN', 'md5sums'), sums.join(''))
  if (spec.conffiles) writeFileSync(path.join(src, 'DEBIAN', 'conffiles'), spec.conffiles.map((c) => `/${c}\n`).join(''))
  for (const [name, body] of Object.entries(spec.scripts ?? {})) {
    writeFileSync(path.join(src, 'DEBIAN', name), body)
    chmodSync(path.join(src, 'DEBIAN', name), 0o755)
  }
  const out = path.join(dir, `${spec.name}_${spec.version}_${spec.arch ?? 'amd64'}.deb`)
  run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', src, out])
  return out
}

/** An ar archive (the .deb container) from members, in order (the testing package's builder). */
export const buildAr = arArchive

export interface GpgKey {
  home: string
  keyring: string
  fingerprint: string
}

export function makeGpgKey(dir: string, name = 'Nip Test Archive'): GpgKey {
  const home = path.join(dir, `gnupg-${name.replace(/\W/g, '')}`)
  mkdirSync(home, { recursive: true, mode: 0o700 })
  const env = { GNUPGHOME: home }
  run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', `${name} <archive@localhost>`, 'ed25519', 'sign', 'never'], { env })
  const fpr = run('gpg', ['--batch', '--with-colons', '--list-keys'], { env }).split('\n').find((l) => l.startsWith('fpr:'))!.split(':')[9]
  const keyring = path.join(dir, `${name.replace(/\W/g, '')}.gpg`)
  const r = spawnSync('gpg', ['--batch', '--export', fpr], { env: { ...process.env, ...env } })
  writeFileSync(keyring, r.stdout)
  return { home, keyring, fingerprint: fpr.toLowerCase() }
}

export function killAgent(key: GpgKey): void {
  spawnSync('gpgconf', ['--homedir', key.home, '--kill', 'gpg-agent'])
}

export interface SuiteOptions {
  suite: string
  /** Stanzas of the Packages file, already with Filename/Size/SHA256. */
  stanzas: string[]
  key: GpgKey
  validUntil?: Date
  /** Corrupt the Release's hash of Packages.xz. */
  wrongIndexHash?: boolean
  /** Change the text after signing. */
  tamper?: boolean
  /** Stanzas of main/binary-all/Packages (no binary-all index when absent). */
  allStanzas?: string[]
  /** Advertise Acquire-By-Hash and keep each index under by-hash/SHA256/<digest> too. */
  acquireByHash?: boolean
  /** The Release's Date (default 2025-01-01). */
  date?: Date
}

/** Write dists/<suite>/{InRelease,Release,main/binary-amd64/Packages{,.xz}} (and binary-all, by-hash). */
export function writeSuite(repo: string, opts: SuiteOptions): void {
  const dist = path.join(repo, 'dists', opts.suite)
  const indexes: [string, string[]][] = [['amd64', opts.stanzas]]
  if (opts.allStanzas) indexes.push(['all', opts.allStanzas])
  const files: string[] = []
  for (const [arch, stanzas] of indexes) {
    const bin = path.join(dist, 'main', `binary-${arch}`)
    mkdirSync(bin, { recursive: true })
    writeFileSync(path.join(bin, 'Packages'), stanzas.join('\n'))
    run('xz', ['-kf', path.join(bin, 'Packages')])
    for (const rel of [`main/binary-${arch}/Packages`, `main/binary-${arch}/Packages.xz`]) {
      const data = readFileSync(path.join(dist, rel))
      let hash = sha256(data)
      if (opts.acquireByHash) {
        mkdirSync(path.join(bin, 'by-hash', 'SHA256'), { recursive: true })
        writeFileSync(path.join(bin, 'by-hash', 'SHA256', hash), data)
      }
      if (opts.wrongIndexHash && rel.endsWith('.xz')) hash = sha256('something else')
      files.push(` ${hash} ${String(data.length).padStart(8)} ${rel}`)
    }
  }
  const date = opts.date ?? new Date('2025-01-01T00:00:00Z')
  const release =
    `Origin: Nip\nLabel: Nip\nSuite: ${opts.suite}\nCodename: ${opts.suite}\nDate: ${date.toUTCString()}\n` +
    (opts.validUntil ? `Valid-Until: ${opts.validUntil.toUTCString()}\n` : '') +
    (opts.acquireByHash ? 'Acquire-By-Hash: yes\n' : '') +
    `Architectures: amd64\nComponents: main\nDescription: nip test repository\nSHA256:\n${files.join('\n')}\n`
  writeFileSync(path.join(dist, 'Release'), release)
  run('gpg', ['--batch', '--yes', '--local-user', opts.key.fingerprint, '--clearsign', '-o', path.join(dist, 'InRelease'), path.join(dist, 'Release')], {
    env: { GNUPGHOME: opts.key.home },
  })
  if (opts.tamper) {
    const p = path.join(dist, 'InRelease')
    writeFileSync(p, readFileSync(p, 'utf8').replace('Label: Nip', 'Label: Evil'))
  }
}

/** The Packages stanza of a .deb file in pool/. */
export function packagesStanza(repo: string, spec: DebSpec, debFile: string, override: { sha256?: string } = {}): string {
  const data = readFileSync(debFile)
  const rel = `pool/main/${path.basename(debFile)}`
  mkdirSync(path.join(repo, 'pool', 'main'), { recursive: true })
  if (!existsSync(path.join(repo, rel))) writeFileSync(path.join(repo, rel), data)
  return controlText(spec) + `Filename: ${rel}\nSize: ${data.length}\nSHA256: ${override.sha256 ?? sha256(data)}\n`
}

export async function serve(dir: string): Promise<{ url: string; close: () => Promise<void>; requests: string[] }> {
  const requests: string[] = []
  const server = http.createServer((req, res) => {
    const p = path.join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname))
    requests.push(req.url!)
    if (!p.startsWith(dir) || !existsSync(p)) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200).end(readFileSync(p))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return { url: `http://127.0.0.1:${port}/`, requests, close: () => new Promise((r) => server.close(() => r())) }
}
