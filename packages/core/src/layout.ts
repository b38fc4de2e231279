/**
 * Layout: every path nip touches, derived from one root and the configuration.
 * Nothing else in core builds paths from the root by hand.
 */
import path from 'node:path'
import type { NipConfig } from './configTypes.js'
import { isNormalRelative } from './archive/entryPath.js'

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
  }

  programDir(name: string): string {
    return path.join(this.programsDir, name)
  }
  versionDir(name: string, version: string): string {
    return path.join(this.programsDir, name, version)
  }
  currentLink(name: string): string {
    return path.join(this.programsDir, name, 'Current')
  }
  programSettingsDir(name: string): string {
    return path.join(this.programsDir, name, 'Settings')
  }
  /** Staging directory of a version being grafted: hidden (leading dot) so it never shows as a program. */
  stagingDir(name: string, version: string, txn: string): string {
    return path.join(this.programsDir, name, `.${version}.tmp-${txn}`)
  }
  adapterCacheDir(id: string): string {
    return path.join(this.cacheDir, id)
  }
  /** Root-relative POSIX form of an absolute path inside the root (for the DB and messages). */
  rel(abs: string): string {
    return path.relative(this.root, abs).split(path.sep).join('/')
  }
  abs(rel: string): string {
    // A normal relative path (most of them: DB rows, link rows) needs no path.join.
    if (isNormalRelative(rel)) return this.root === '/' ? `/${rel}` : `${this.root}/${rel}`
    return path.join(this.root, rel)
  }
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
    !s.includes('\0') &&
    s !== 'Current' &&
    s !== 'Settings' &&
    s !== 'Variable'
  )
}
