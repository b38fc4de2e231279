/**
 * Where a tar member of a Gobo package goes in the program tree.
 *
 * A package holds `<Name>/<Version>/...` only (bin/CreatePackage), where Name and Version are the
 * file name's. Those two components are stripped; the directories `<Name>` and `<Name>/<Version>`
 * themselves carry nothing. Defaults for configuration files, `Resources/Defaults/Settings/<x>`,
 * become settings entries `Settings/<x>` (what Gobo's UpdateSettings copies into
 * /Programs/<Name>/Settings); everything else, Resources/ included, keeps its path.
 * Any other member (another program, `<Name>/Settings` of a personal backup, a second version)
 * makes the package malformed: the reference tools never check this, nip does.
 */
import path from 'node:path'
import { NipError } from '@nip/core'

export interface MappedPath {
  path: string
  settings: boolean
}

export interface MemberContext {
  name: string
  version: string
  /** The package file, for messages. */
  file: string
}

const SETTINGS_DEFAULTS = 'Resources/Defaults/Settings'

/** The tree path of a (normalised) member path, or null for the two prefix directories. */
export function mapMemberPath(member: string, type: 'file' | 'dir' | 'symlink' | 'hardlink', ctx: MemberContext): MappedPath | null {
  const prefix = `${ctx.name}/${ctx.version}`
  if (member === ctx.name || member === prefix) {
    if (type === 'dir') return null
    throw outside(member, ctx)
  }
  if (!member.startsWith(`${prefix}/`)) throw outside(member, ctx)
  const rest = member.slice(prefix.length + 1)
  if (rest === SETTINGS_DEFAULTS) {
    if (type === 'dir') return null
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(ctx.file)}: ${member} must be a directory`, {
      hint: 'Resources/Defaults/Settings holds the default configuration files; the package is malformed.',
      data: { file: ctx.file, entry: member },
    })
  }
  if (rest.startsWith(`${SETTINGS_DEFAULTS}/`)) return { path: `Settings/${rest.slice(SETTINGS_DEFAULTS.length + 1)}`, settings: true }
  return { path: rest, settings: false }
}

function outside(member: string, ctx: MemberContext): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(ctx.file)}: member ${JSON.stringify(member)} is not under ${ctx.name}/${ctx.version}/`, {
    hint: `A GoboLinux package holds ${ctx.name}/${ctx.version}/ only, as its file name says; do not install it.`,
    data: { file: ctx.file, entry: member, expectedPrefix: `${ctx.name}/${ctx.version}/` },
  })
}
