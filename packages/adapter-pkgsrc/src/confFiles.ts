/**
 * CONF_FILES as pkgsrc's +INSTALL script records them (mk/pkginstall/files):
 *   # FILE: etc/foo.conf c share/examples/foo/foo.conf 0644
 * On install, pkgsrc copies the example to the configuration path unless a file is already
 * there. nip gets the same behaviour from Settings: each such configuration file under the
 * prefix's etc/ becomes a `Settings/…` entry sharing the example's blob, which core copies only
 * when absent (a user's edited copy is kept).
 */
import path from 'node:path'

export interface ConfFile {
  /** Prefix-relative configuration path (`etc/foo.conf`). */
  path: string
  /** Prefix-relative example path. */
  example: string
  mode?: number
}

export function parseConfFiles(install: string, prefix: string): ConfFile[] {
  const out: ConfFile[] = []
  const rel = (p: string) => (p.startsWith('/') ? path.posix.relative(prefix, p) : p)
  for (const line of install.split('\n')) {
    const m = /^# FILE: (\S+) (\S+) (\S+)(?: ([0-7]{3,4}))?/.exec(line)
    if (!m || !m[2].includes('c')) continue
    const target = rel(m[1])
    const example = rel(m[3])
    if (!target.startsWith('etc/') || example.startsWith('..') || target.split('/').includes('..')) continue
    out.push({ path: target, example, ...(m[4] ? { mode: parseInt(m[4], 8) & 0o777 } : {}) })
  }
  return out
}
