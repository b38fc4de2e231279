/**
 * The order of search results across sources: the exact name first, then names that start with
 * the query, then the rest; within each group by the source's score (higher first), then by
 * name, then by the sources' priority order (the order the hits came in). Each hit names the
 * version of that program that is Current in the root, when one is.
 *
 * Contract: pure — reorders and annotates, reads only the given rows.
 */
import type { SearchHit } from './adapter.js'
import type { ProgramRow } from './db/database.js'

export function rankSearchHits(query: string, hits: SearchHit[], current: Pick<ProgramRow, 'name' | 'version' | 'source' | 'current' | 'active'>[]): SearchHit[] {
  const q = query.trim().toLowerCase()
  const installed = new Map(current.filter((p) => p.current === 1 && p.active !== 0).map((p) => [p.name.toLowerCase(), p]))
  const group = (name: string): number => (name === q ? 0 : name.startsWith(q) ? 1 : 2)
  return hits
    .map((hit, order) => ({ hit, order, name: hit.ref.name.toLowerCase() }))
    .sort((a, b) => group(a.name) - group(b.name) || (b.hit.score ?? 0) - (a.hit.score ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || a.order - b.order)
    .map(({ hit, name }) => {
      const p = installed.get(name)
      return p ? { ...hit, installed: { version: p.version, source: p.source } } : hit
    })
}
