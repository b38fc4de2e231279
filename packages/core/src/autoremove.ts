/**
 * autoremove: the programs grafted only as dependencies (explicit = 0) that no explicit program
 * needs any more, directly or through other dependencies. Only the current generation counts;
 * a dependency is needed when some needed program declares its name (any version of it that is
 * active stays, as remove would leave it).
 */
import type { Database, ProgramRow } from './db/database.js'

export function planAutoremove(db: Database): ProgramRow[] {
  const active = db.activePrograms()
  const byName = new Map<string, ProgramRow[]>()
  for (const p of active) {
    const k = p.name.toLowerCase()
    byName.set(k, [...(byName.get(k) ?? []), p])
  }
  const needed = new Set<string>()
  const queue: ProgramRow[] = active.filter((p) => p.explicit === 1)
  for (const p of queue) needed.add(p.name.toLowerCase())
  for (let i = 0; i < queue.length; i++) {
    for (const d of db.dependencies(queue[i].id)) {
      const k = d.name.toLowerCase()
      if (needed.has(k)) continue
      needed.add(k)
      queue.push(...(byName.get(k) ?? []))
    }
  }
  return active.filter((p) => p.explicit === 0 && !needed.has(p.name.toLowerCase()))
}
