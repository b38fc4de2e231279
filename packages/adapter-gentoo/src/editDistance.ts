/** The closest USE flags or names to a misspelt one (for "did you mean"): core's edit distance, allowing max(2, len/3) and counting a containing name as near. */
import { closest as nearest } from '@nip/core'

export function closest(name: string, candidates: Iterable<string>, limit = 3): string[] {
  return nearest(name, candidates, { limit, maxDistance: (n) => Math.max(2, Math.floor(n / 3)), substrings: true })
}
