/**
 * Global flags may come before the command (`nip --root R install hello`), as users of pacman
 * (`pacman --root R -S`) expect; oclif wants the command first. Move the leading global flags
 * (and their values) after the command's own tokens, so both orders mean the same.
 */
const WITH_VALUE = new Set(['--root', '--config'])
const BOOLEAN = new Set(['--json', '--yes', '-y', '--quiet', '-q', '--no-color'])

export function hoistGlobalFlags(argv: string[]): string[] {
  const leading: string[] = []
  let i = 0
  while (i < argv.length) {
    const a = argv[i]
    if (BOOLEAN.has(a) || [...WITH_VALUE].some((f) => a.startsWith(`${f}=`))) {
      leading.push(a)
      i++
    } else if (WITH_VALUE.has(a) && i + 1 < argv.length) {
      leading.push(a, argv[i + 1])
      i += 2
    } else break
  }
  if (leading.length === 0 || i >= argv.length) return argv
  // Help is the same for every root and configuration: `nip --root R help list` is `nip help list`.
  if (argv[i] === 'help') return argv.slice(i)
  // Keep them before a `--`, after which everything is an argument (`nip info ffmpeg -- -gpl`).
  const rest = argv.slice(i)
  const dashes = rest.indexOf('--')
  return dashes === -1 ? [...rest, ...leading] : [...rest.slice(0, dashes), ...leading, ...rest.slice(dashes)]
}

/**
 * Whether oclif would print the version for these (hoisted) arguments: its rule, the first
 * token is `--version` or one of package.json's `oclif.additionalVersionFlags`.
 */
export function asksForVersion(argv: string[], additionalVersionFlags: readonly string[] = []): boolean {
  return argv[0] === '--version' || (argv[0] !== undefined && additionalVersionFlags.includes(argv[0]))
}

/** The CLI's package.json fields the version line needs. */
export interface VersionManifest {
  name?: string
  version?: string
  oclif?: { additionalVersionFlags?: string[]; hooks?: Record<string, unknown>; plugins?: string[] }
}

/**
 * The line `nip --version` prints, as oclif's Config.userAgent builds it
 * (`nip/0.1.0 linux-x64 node-v20.20.2`), or null where only oclif can say it: on WSL (oclif
 * prints "wsl" as the platform there) and when the package declares an `init` hook, which oclif
 * runs before printing the version.
 */
export function versionLine(pjson: VersionManifest, env: { platform: string; arch: string; release: string; node: string }): string | null {
  if (pjson.oclif?.hooks?.init !== undefined) return null
  if (env.platform === 'linux' && env.release.toLowerCase().includes('microsoft')) return null
  const arch = env.arch === 'ia32' ? 'x86' : env.arch
  return `${pjson.name}/${pjson.version ?? '0.0.0'} ${env.platform}-${arch} node-${env.node}`
}
