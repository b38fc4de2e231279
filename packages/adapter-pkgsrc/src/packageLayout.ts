/**
 * Where a pkgsrc file goes in the Gobo tree. pkgsrc installs everything under one prefix
 * (`@cwd`, e.g. /usr/pkg or /opt/pkg); the prefix becomes the version directory itself, so
 * `bin/foo` stays `bin/foo`, and `etc/…` (PKG_SYSCONFDIR, the configuration pkgsrc's CONF_FILES
 * manages) becomes `Settings/…`, which core copies once and never overwrites.
 */
import path from 'node:path'
import { NipError } from '@nip/core'
import type { PlistFile } from './plist.js'

/** The file's path relative to the package prefix; refused when its `@cwd` lies outside it. */
export function prefixRelative(file: PlistFile, prefix: string, archive: string): string {
  const rel = path.posix.relative(prefix, file.cwd)
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${archive}: ${file.path} is installed under @cwd ${file.cwd}, outside the package prefix ${prefix}.`, {
      hint: 'nip grafts only what lies under the package prefix; this package writes elsewhere in the system.',
      data: { archive: path.basename(archive), entry: file.path, cwd: file.cwd, prefix },
    })
  }
  return rel === '' ? file.path : `${rel}/${file.path}`
}

/** Prefix-relative path → path in the program tree. */
export function mapPackagePath(rel: string): string {
  if (rel === 'etc') return 'Settings'
  if (rel.startsWith('etc/')) return `Settings/${rel.slice(4)}`
  return rel
}
