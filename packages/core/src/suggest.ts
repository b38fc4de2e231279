/**
 * "Did you mean": one edit distance for every suggestion nip makes (config keys, commands, USE
 * flags, package names). Damerau's optimal string alignment: an insertion, a deletion, a
 * substitution or a swap of two neighbouring letters costs one, so `hlelo` is one from `hello`.
 */
export function editDistance(a: string, b: string, bound = Infinity): number {
  if (Math.abs(a.length - b.length) > bound) return bound + 1
  let prev2: number[] = []
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2] + 1)
      cur[j] = d
      if (d < rowMin) rowMin = d
    }
    if (rowMin > bound) return bound + 1
    prev2 = prev
    prev = cur
  }
  return prev[b.length]
}

export interface ClosestOptions {
  /** How many to return (default 3). */
  limit?: number
  /** The largest distance that still counts as a typo: a function of the word's length (default max(1, ⌊len/3⌋)). */
  maxDistance?: (length: number) => number
  /** Count a candidate that contains the word, or is contained in it, as at the largest distance allowed. */
  substrings?: boolean
}

/** The candidates near `word`, nearest first, then by name; case is ignored. */
export function closest(word: string, candidates: Iterable<string>, options: ClosestOptions = {}): string[] {
  const w = word.toLowerCase()
  const max = (options.maxDistance ?? ((n) => Math.max(1, Math.floor(n / 3))))(w.length)
  const scored: { c: string; d: number }[] = []
  for (const c of new Set(candidates)) {
    const l = c.toLowerCase()
    let d = editDistance(w, l, max)
    if (options.substrings && d > max && (l.includes(w) || w.includes(l))) d = max
    if (d <= max) scored.push({ c, d })
  }
  return scored
    .sort((x, y) => x.d - y.d || (x.c < y.c ? -1 : x.c > y.c ? 1 : 0))
    .slice(0, options.limit ?? 3)
    .map((x) => x.c)
}

/**
 * The hint for a program name nothing is grafted under: the grafted names a typo away
 * (`Did you mean gentoo-tools?`), else `otherwise`. `suggestions` goes into the error's data.
 */
export function graftedNameHint(grafted: Iterable<string>, name: string, otherwise: string): { hint: string; suggestions?: string[] } {
  const near = closest(name, grafted)
  return near.length > 0 ? { hint: `Did you mean ${near.join(', ')}? ${otherwise}`, suggestions: near } : { hint: otherwise }
}
