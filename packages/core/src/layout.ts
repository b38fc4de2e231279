/**
 * Layout: every path nip touches, derived from one root and the configuration.
 * Nothing else in core builds paths from the root by hand.
 */
import path from 'node:path'
import type { NipConfig } from './configTypes.js'
import { ConfinedFs } from '@nip/cas'
import { isNormalRelative } from './archive/entryPath.js'
import { NipError } from './errors.js'

/** The link-farm directories under <links-dir>, and which program subdirectories feed each. */
export const LINK_DIRS = {
  Executables: ['bin', 'sbin'],
  Libraries: ['lib', 'lib64'],
  Headers: ['include'],
  Shared: ['share'],
  Manuals: ['share/man', 'man'],
} as const

export type LinkDirName = keyof typeof LINK_DIRS

export class Layout {
  readonly root: string
  readonly programsDir: string
  readonly linksDir: string
  readonly settingsDir: string
  readonly stateDir: string
  readonly casDir: string
  readonly cacheDir: string
  readonly logDir: string
  readonly dbPath: string
  readonly lockPath: string
  readonly trashDir: string
  readonly tmpDir: string
  /** 1 MiB of blocks held back for commands that free space on a full disk (reserve.ts). */
  readonly reservePath: string
  /** The confined layer (confinedFs.ts): every write under the root goes through it. */
  readonly cfs: ConfinedFs

  constructor(config: Pick<NipConfig, 'root' | 'programsDir' | 'linksDir' | 'settingsDir' | 'stateDir' | 'casDir' | 'cacheDir' | 'logDir'>) {
    const r = path.resolve(config.root)
    const under = (rel: string) => path.join(r, rel.replace(/^\/+/, ''))
    this.root = r
    this.programsDir = under(config.programsDir)
    this.linksDir = under(config.linksDir)
    this.settingsDir = under(config.settingsDir)
    this.stateDir = under(config.stateDir)
    this.casDir = under(config.casDir)
    this.cacheDir = under(config.cacheDir)
    this.logDir = under(config.logDir)
    this.dbPath = path.join(this.stateDir, 'db', 'nip.sqlite')
    this.lockPath = path.join(this.stateDir, 'lock')
    this.trashDir = path.join(this.stateDir, 'trash')
    this.tmpDir = path.join(this.stateDir, 'tmp')
    this.reservePath = path.join(this.stateDir, 'reserve')
    this.cfs = new ConfinedFs(r)
    ConfinedFs.register(this.cfs)
  }

  // Names and versions become path components: each is checked here, wherever it came from (the
  // command line, a package, a DB row), so `../x` never reaches the filesystem.
  programDir(name: string): string {
    return `${this.programsDir}/${component(name, 'program name')}`
  }
  versionDir(name: string, version: string): string {
    return `${this.programDir(name)}/${component(version, 'version')}`
  }
  currentLink(name: string): string {
    return `${this.programDir(name)}/Current`
  }
  programSettingsDir(name: string): string {
    return `${this.programDir(name)}/Settings`
  }
  /** Staging directory of a version being grafted: hidden (leading dot) so it never shows as a program. */
  stagingDir(name: string, version: string, txn: string): string {
    if (!/^[0-9a-z]+-[0-9a-f]+$/.test(txn)) throw unsafe(txn, 'transaction id')
    return `${this.programDir(name)}/.${component(version, 'version')}.tmp-${txn}`
  }
  adapterCacheDir(id: string): string {
    return path.join(this.cacheDir, id)
  }
  /** Root-relative POSIX form of an absolute path inside the root (for the DB and messages). */
  rel(abs: string): string {
    return path.relative(this.root, abs).split(path.sep).join('/')
  }
  /**
   * The absolute path of a root-relative path (DB rows, link rows, journal entries): only a
   * normal relative path is accepted (ERR_NIP_STATE_INVALID otherwise), so nothing read back
   * from the state can name a place outside the root.
   */
  abs(rel: string): string {
    if (isNormalRelative(rel)) return this.root === '/' ? `/${rel}` : `${this.root}/${rel}`
    if (rel === '' || rel === '.') return this.root
    throw new NipError('ERR_NIP_STATE_INVALID', `"${rel}" is not a normal path inside the root; nip will not act on it.`, {
      hint: 'The database or the journal holds a bad row (tampered with, or restored from a bad backup). nip doctor reports it.',
      data: { path: rel },
    })
  }

  /** abs() of a link row's path, which must lie in the link farm or the settings farm (ERR_NIP_STATE_INVALID otherwise). */
  linkAbs(rel: string): string {
    const abs = this.abs(rel)
    if (!abs.startsWith(`${this.linksDir}/`) && !abs.startsWith(`${this.settingsDir}/`)) {
      throw new NipError('ERR_NIP_STATE_INVALID', `The link row "${rel}" lies outside the link farm ${this.rel(this.linksDir)}; nip will not act on it.`, {
        hint: 'The database or the journal holds a bad row. nip doctor reports it.',
        data: { path: rel },
      })
    }
    return abs
  }
}

function component(s: string, what: string): string {
  if (!isSafeComponent(s)) throw unsafe(s, what)
  return s
}

function unsafe(s: string, what: string): NipError {
  return new NipError('ERR_NIP_BAD_NAME', `The ${what} "${s}" is not a safe path component; nip will not use it as a directory name.`, {
    hint: 'Names and versions may not be empty, ".", "..", start with a dot, contain "/" or NUL, or be Current, Settings or Variable. If it came from the database, nip doctor reports the row.',
    data: { [what.replace(/ /g, '')]: s },
  })
}

/** Program names and versions become path components: refuse anything unsafe. */
export function isSafeComponent(s: string): boolean {
  return (
    s.length > 0 &&
    s.length <= 255 &&
    s !== '.' &&
    s !== '..' &&
    !s.startsWith('.') &&
    !s.includes('/') &&
    !/[\0-\x1f\x7f]/.test(s) &&
    s !== 'Current' &&
    s !== 'Settings' &&
    s !== 'Variable'
  )
}
