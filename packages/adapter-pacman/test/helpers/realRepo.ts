/**
 * Real pacman fixtures made by the real tools: one split PKGBUILD built once with makepkg (as
 * the unprivileged user `nipbuild`, since makepkg refuses root), an unsigned repository and a
 * signed one (repo-add --sign, detached package signatures) with a throw-away GnuPG key, and a
 * second key that signed nothing (the "wrong key").
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const BUILD_USER = 'nipbuild'
const TOOLS = ['makepkg', 'repo-add', 'pacman', 'gpg', 'gpgconf', 'fakeroot', 'bsdtar', 'runuser', 'cc', 'zstd']

/** Why the interop fixtures cannot be built here, or null when they can. */
export function missingTools(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (to run makepkg as an unprivileged user)'
  const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0)
  return missing.length ? `${missing.join(', ')} not installed` : null
}

export interface RealRepos {
  dir: string
  /** Package files by pkgname. */
  packages: Record<string, string>
  /** Armored public key that signed the signed repository. */
  keyring: string
  /** Armored public key of a key that signed nothing. */
  wrongKeyring: string
  gnupgHome: string
}

const PKGBUILD = String.raw`pkgbase=niptest
pkgname=(nip-hello nip-libgreet nip-conflicter)
pkgver=1.2
pkgrel=3
arch=('x86_64')
license=('MIT')
url='https://example.invalid/niptest'
source=()

build() {
  cat > hello.c <<'C'
#include <stdio.h>
int main(void) { puts("hello from nip"); return 0; }
C
  cat > greet.c <<'C'
const char *greet(void) { return "greetings"; }
C
  cc -O2 -o hello hello.c
  cc -O2 -shared -fPIC -Wl,-soname,libgreet.so.1 -o libgreet.so.1.0 greet.c
}

package_nip-hello() {
  pkgdesc='Says hello'
  depends=('nip-libgreet>=1.0' 'greet-provider')
  backup=('etc/hello.conf')
  install=hello.install
  install -Dm755 hello "$pkgdir/usr/bin/hello"
  ln -s hello "$pkgdir/usr/bin/hello-link"
  install -Dm644 /dev/stdin "$pkgdir/etc/hello.conf" <<<'greeting = hello'
  install -Dm644 /dev/stdin "$pkgdir/usr/share/doc/nip-hello/README" <<<'A hello program.'
  install -Dm755 /dev/stdin "$pkgdir/usr/share/nip-hello/run.sh" <<<'#!/bin/sh'
  ln -s /etc/hello.conf "$pkgdir/usr/share/nip-hello/hello.conf"
  install -Dm644 /dev/stdin "$pkgdir/usr/share/man/man1/hello.1" <<<'.TH HELLO 1'
}

package_nip-libgreet() {
  pkgdesc='A greeting library'
  provides=('greet-provider' 'libgreet.so=1-64')
  install -Dm755 libgreet.so.1.0 "$pkgdir/usr/lib/libgreet.so.1.0"
  ln -s libgreet.so.1.0 "$pkgdir/usr/lib/libgreet.so.1"
  ln -s libgreet.so.1 "$pkgdir/usr/lib/libgreet.so"
  install -Dm644 /dev/stdin "$pkgdir/usr/include/greet.h" <<<'const char *greet(void);'
}

package_nip-conflicter() {
  pkgdesc='Conflicts with nip-hello'
  conflicts=('nip-hello')
  provides=('greet-provider')
  install -Dm755 /dev/stdin "$pkgdir/usr/bin/conflicter" <<<'#!/bin/sh'
}
`

const INSTALL = `post_install() {
  echo "hello installed"
}
`

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts })
}

export function buildRealRepos(): RealRepos {
  if (spawnSync('id', [BUILD_USER]).status !== 0) run('useradd', ['-m', BUILD_USER])
  mkdirSync('/var/lib/pacman', { recursive: true })
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nip-pacman-'))
  chmodSync(dir, 0o755)
  const build = path.join(dir, 'build')
  mkdirSync(build)
  writeFileSync(path.join(build, 'PKGBUILD'), PKGBUILD)
  writeFileSync(path.join(build, 'hello.install'), INSTALL)
  const uid = Number(run('id', ['-u', BUILD_USER]).trim())
  const gid = Number(run('id', ['-g', BUILD_USER]).trim())
  for (const f of ['', 'PKGBUILD', 'hello.install']) chownSync(path.join(build, f), uid, gid)
  run('runuser', ['-u', BUILD_USER, '--', 'env', 'PKGEXT=.pkg.tar.zst', 'PACKAGER=Nip Test <test@example.invalid>', 'makepkg', '-f', '--nodeps'], { cwd: build })
  const packages: Record<string, string> = {}
  for (const f of readdirSync(build).filter((f) => f.endsWith('.pkg.tar.zst'))) {
    packages[f.replace(/-[^-]+-[^-]+-[^-]+\.pkg\.tar\.zst$/, '')] = path.join(build, f)
  }

  // Unsigned repository.
  const plain = path.join(dir, 'plain')
  mkdirSync(plain)
  for (const f of Object.values(packages)) copyFileSync(f, path.join(plain, path.basename(f)))
  run('repo-add', ['-q', path.join(plain, 'niptest.db.tar.gz'), ...Object.values(packages).map((f) => path.join(plain, path.basename(f)))])

  // Signed repository, with a throw-away key.
  const gnupgHome = path.join(dir, 'gnupg')
  mkdirSync(gnupgHome, { mode: 0o700 })
  const env = { ...process.env, GNUPGHOME: gnupgHome }
  run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'Nip Test <signer@example.invalid>', 'ed25519', 'sign', 'never'], { env })
  run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'Wrong Key <wrong@example.invalid>', 'ed25519', 'sign', 'never'], { env })
  const keyring = path.join(dir, 'keyring.asc')
  const wrongKeyring = path.join(dir, 'wrong-keyring.asc')
  writeFileSync(keyring, run('gpg', ['--armor', '--export', 'signer@example.invalid'], { env }))
  writeFileSync(wrongKeyring, run('gpg', ['--armor', '--export', 'wrong@example.invalid'], { env }))
  const signed = path.join(dir, 'signed')
  mkdirSync(signed)
  for (const f of Object.values(packages)) {
    const to = path.join(signed, path.basename(f))
    copyFileSync(f, to)
    run('gpg', ['--batch', '--detach-sign', '--no-armor', '-u', 'signer@example.invalid', to], { env })
  }
  run('repo-add', ['-q', '--sign', '--key', 'signer@example.invalid', path.join(signed, 'niptest.db.tar.gz'), ...Object.values(packages).map((f) => path.join(signed, path.basename(f)))], { env })
  return { dir, packages, keyring, wrongKeyring, gnupgHome }
}

export function killAgent(gnupgHome: string): void {
  spawnSync('gpgconf', ['--homedir', gnupgHome, '--kill', 'gpg-agent'])
}
