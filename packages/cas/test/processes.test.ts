import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { Cas, blake3Hex } from '../src/index.js'
import { listNames, makeTempDir } from './tempDir.js'

const run = promisify(execFile)
const here = dirname(fileURLToPath(import.meta.url))
const entry = pathToFileURL(join(here, '..', 'src', 'index.ts')).href

/** Adds the same 4 MiB (in 64 KiB chunks) twenty times to one store and prints the keys. */
const WORKER = `
import { Cas } from ${JSON.stringify(entry)}
const cas = new Cas(process.argv[1])
async function* content() {
  for (let i = 0; i < 64; i++) { await new Promise((r) => setImmediate(r)); yield Buffer.alloc(65536, i) }
}
const keys = new Set()
for (let round = 0; round < 20; round++) keys.add((await cas.addStream(content(), { executable: true })).key)
process.stdout.write([...keys].join(','))
`

describe('Cas between processes', () => {
  it('several processes adding the same blob at once all succeed with one blob', async function () {
    this.timeout(60_000)
    const { dir, cleanup } = await makeTempDir()
    try {
      const casDir = join(dir, 'cas')
      const expected = `${blake3Hex(Buffer.concat(Array.from({ length: 64 }, (_, i) => Buffer.alloc(65536, i))))}-x`
      const outputs = await Promise.all(
        Array.from({ length: 4 }, () =>
          run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WORKER, casDir], { cwd: join(here, '..') }),
        ),
      )
      for (const { stdout } of outputs) assert.equal(stdout, expected)
      const cas = new Cas(casDir)
      const keys: string[] = []
      for await (const key of cas.keys()) keys.push(key)
      assert.deepEqual(keys, [expected])
      assert.equal(await cas.verify(expected), true)
      assert.equal((await stat(cas.pathOf(expected))).nlink, 1)
      assert.deepEqual(await listNames(join(casDir, 'tmp')), [])
    } finally {
      await cleanup()
    }
  })
})
