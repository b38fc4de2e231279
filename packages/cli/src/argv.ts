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
