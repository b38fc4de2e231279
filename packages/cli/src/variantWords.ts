/**
 * Splitting a command line into the command's flags and its specs, each spec with the variant
 * words that follow it: `install ffmpeg +vaapi -gpl video_cards=intel zlib --dry-run` is the
 * flag `--dry-run`, the spec `ffmpeg` with `+vaapi -gpl video_cards=intel`, and the spec `zlib`.
 *
 * oclif would take `-gpl` for an (unknown) flag, so the words are split before oclif parses:
 * only the command's own flags (long names, and the exact `-x` of a flag's char) are flags; a
 * word after a spec that looks like a variant (`+flag`, `-flag`, `~flag`, `key=value`) is one.
 * Anything else starting with `-` stays with the flags, where the command reports it as
 * unknown (ERR_NIP_USAGE). After `--` no word is a flag (`nip info ffmpeg -- -y` asks for the
 * USE flag y). Whether a variant is valid is core's and the source's business, not this one's.
 */
export interface FlagShape {
  type: 'boolean' | 'option'
  char?: string
}

export interface SpecWords {
  spec: string
  variants: string[]
}

export interface SplitCommandLine {
  /** Tokens for oclif: the command's flags (and their values), in order. */
  flags: string[]
  specs: SpecWords[]
  /** Variant-looking words with no spec before them, or dash words after `--` that are no variant. */
  orphans: string[]
}

const VARIANT = /^(?:[+~-][A-Za-z0-9]|[A-Za-z][A-Za-z0-9_]*=)/

export function looksLikeVariant(word: string): boolean {
  return VARIANT.test(word)
}

export function splitVariantWords(argv: readonly string[], flagShapes: Record<string, FlagShape>): SplitCommandLine {
  const withValue = new Set<string>()
  const known = new Set<string>()
  for (const [name, shape] of Object.entries(flagShapes)) {
    known.add(`--${name}`)
    if (shape.char) known.add(`-${shape.char}`)
    if (shape.type === 'option') {
      withValue.add(`--${name}`)
      if (shape.char) withValue.add(`-${shape.char}`)
    }
  }
  const out: SplitCommandLine = { flags: [], specs: [], orphans: [] }
  const word = (w: string, afterDashes: boolean) => {
    const last = out.specs[out.specs.length - 1]
    if (looksLikeVariant(w)) {
      if (last) last.variants.push(w)
      else out.orphans.push(w)
    } else if (afterDashes && w.startsWith('-')) out.orphans.push(w)
    else out.specs.push({ spec: w, variants: [] })
  }
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]
    if (t === '--') {
      for (const rest of argv.slice(i + 1)) word(rest, true)
      break
    }
    const name = t.includes('=') ? t.slice(0, t.indexOf('=')) : t
    if (t.startsWith('--') || known.has(name) || (t.startsWith('-') && out.specs.length === 0) || (t.startsWith('-') && !looksLikeVariant(t))) {
      out.flags.push(t)
      if (withValue.has(t) && i + 1 < argv.length) out.flags.push(argv[++i])
      continue
    }
    word(t, false)
  }
  return out
}

/** A spec and its variants as one spec string for core (`"ffmpeg +vaapi -gpl"`, see parseSpec). */
export function joinSpec(s: SpecWords): string {
  return [s.spec, ...s.variants].join(' ')
}
