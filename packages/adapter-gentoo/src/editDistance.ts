/** Levenshtein distance, and the closest candidates to a misspelt name (for "did you mean"). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return prev[b.length]
}

/** Up to `limit` candidates within a distance of max(2, len/3), nearest first, then by name. */
export function closest(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const max = Math.max(2, Math.floor(name.length / 3))
  return [...new Set(candidates)]
    .map((c) => ({ c, d: c.includes(name) || name.includes(c) ? Math.min(editDistance(name, c), max) : editDistance(name, c) }))
    .filter((x) => x.d <= max)
    .sort((x, y) => x.d - y.d || (x.c < y.c ? -1 : x.c > y.c ? 1 : 0))
    .slice(0, limit)
    .map((x) => x.c)
}
