/**
 * The packing list `+CONTENTS` (pkg_install `lib/plist.c`, pkg_create(1)): lines starting with
 * `@` are commands, every other line is a file relative to the current `@cwd`.
 * `@comment MD5:<hex>` and `@comment Symlink:<target>` after a file describe that file;
 * `@ignore` makes the next file a metadata member, not payload; `@mode`/`@owner`/`@group`
 * apply to the files after them (an empty argument resets).
 *
 * Contract: refuses (ERR_NIP_BAD_PACKAGE) a list without `@name` or without `@cwd` before the
 * first file, an unknown command, a file path that is absolute, empty or contains `..`, and an
 * MD5 comment that is not 32 hex digits.
 */
import { NipError } from '@nip/core'

export interface PlistFile {
  /** The line as written: also the archive member name. */
  path: string
  /** The `@cwd` in force. */
  cwd: string
  md5?: string
  symlink?: string
  mode?: string
  owner?: string
  group?: string
}

export interface PlistCommand {
  /** `@exec` or `@unexec`, with `%F %D %B %f` still unexpanded. */
  name: '@exec' | '@unexec'
  body: string
  /** The file the command follows (what `%F` stands for), if any. */
  lastFile?: string
  cwd: string
}

export interface Plist {
  name: string
  /** The first `@cwd`: the package's prefix. */
  prefix: string
  files: PlistFile[]
  /** Members named after `@ignore` (metadata such as +BUILD_INFO). */
  ignored: string[]
  pkgdeps: string[]
  blddeps: string[]
  conflicts: string[]
  commands: PlistCommand[]
  dirrm: string[]
  pkgdirs: string[]
  options: string[]
  display?: string
}

const KNOWN = new Set([
  '@cwd', '@cd', '@src', '@exec', '@unexec', '@mode', '@owner', '@group', '@comment', '@ignore', '@name', '@pkgdep',
  '@blddep', '@pkgcfl', '@dirrm', '@pkgdir', '@option', '@display', '@ignore_inst',
])

export function parsePlist(text: string, source = '+CONTENTS'): Plist {
  const out: Plist = { name: '', prefix: '', files: [], ignored: [], pkgdeps: [], blddeps: [], conflicts: [], commands: [], dirrm: [], pkgdirs: [], options: [] }
  let cwd: string | null = null
  let mode: string | undefined
  let owner: string | undefined
  let group: string | undefined
  let ignoreNext = false
  let last: PlistFile | undefined
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '')
    if (line === '') continue
    const fail = (why: string) => bad(`${source} line ${i + 1}: ${why}`, source, i + 1)
    if (!line.startsWith('@')) {
      if (ignoreNext) {
        out.ignored.push(line)
        ignoreNext = false
        continue
      }
      if (cwd === null) throw fail(`the file ${line} comes before any @cwd`)
      if (line.startsWith('/') || line.split('/').some((p) => p === '..' || p === '')) throw fail(`unsafe file path ${JSON.stringify(line)}`)
      last = { path: line, cwd, ...(mode ? { mode } : {}), ...(owner ? { owner } : {}), ...(group ? { group } : {}) }
      out.files.push(last)
      continue
    }
    const sp = line.search(/\s/)
    const cmd = sp < 0 ? line : line.slice(0, sp)
    const arg = sp < 0 ? '' : line.slice(sp + 1).trim()
    if (!KNOWN.has(cmd)) throw fail(`unknown command ${cmd}`)
    switch (cmd) {
      case '@cwd':
      case '@cd':
        if (!arg.startsWith('/')) throw fail(`@cwd needs an absolute directory, got ${JSON.stringify(arg)}`)
        cwd = arg.replace(/\/+$/, '') || '/'
        if (out.prefix === '') out.prefix = cwd
        break
      case '@name':
        out.name = arg
        break
      case '@comment':
        if (arg.startsWith('MD5:')) {
          const md5 = arg.slice(4)
          if (!/^[0-9a-f]{32}$/i.test(md5)) throw fail(`malformed checksum comment ${JSON.stringify(arg)}`)
          if (last) last.md5 = md5.toLowerCase()
        } else if (arg.startsWith('Symlink:')) {
          if (last) last.symlink = arg.slice('Symlink:'.length)
        }
        break
      case '@ignore':
        ignoreNext = true
        break
      case '@mode':
        mode = arg || undefined
        break
      case '@owner':
        owner = arg || undefined
        break
      case '@group':
        group = arg || undefined
        break
      case '@pkgdep':
        out.pkgdeps.push(arg)
        break
      case '@blddep':
        out.blddeps.push(arg)
        break
      case '@pkgcfl':
        out.conflicts.push(arg)
        break
      case '@exec':
      case '@unexec':
        out.commands.push({ name: cmd, body: arg, ...(last ? { lastFile: last.path } : {}), cwd: cwd ?? '' })
        break
      case '@dirrm':
        out.dirrm.push(arg)
        break
      case '@pkgdir':
        out.pkgdirs.push(arg)
        break
      case '@option':
        out.options.push(arg)
        break
      case '@display':
        out.display = arg
        break
      default:
        break
    }
  }
  if (out.name === '') throw bad(`${source}: Invalid PLIST: missing @name`, source, 0)
  if (out.prefix === '') throw bad(`${source}: Invalid PLIST: missing @cwd`, source, 0)
  return out
}

function bad(message: string, source: string, line: number): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', message, {
    hint: 'The package\'s packing list is malformed; the package is broken or was not made by pkg_create.',
    data: { source, line },
  })
}
