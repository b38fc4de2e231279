import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Cas } from '@nip/cas'
import { buildTar } from '@nip/testing'
import { unpackToCas, DEFAULT_LIMITS } from '@nip/core'
const root = await mkdtemp(join(tmpdir(), 'nip-perf-'))
const cas = new Cas(join(root, 'cas')); await cas.init()
const entries = Array.from({ length: 200 }, (_, i) => ({ path: `f/${i}`, content: randomBytes(1024 * 1024) }))
for (const compression of ['none', 'zstd', 'gzip'] as const) {
  const data = await buildTar(entries, { compression })
  const t = performance.now()
  const r = await unpackToCas([data], { cas, limits: DEFAULT_LIMITS })
  const s = (performance.now() - t) / 1000
  console.log(compression, r.entries.length, (200 / s).toFixed(0), 'MB/s')
}
await rm(root, { recursive: true, force: true })
