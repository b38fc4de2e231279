/**
 * Mutated Nix input: a valid NAR and a signed `.narinfo`, damaged by bit flips, truncation and
 * splicing with a fixed seed. A NAR is fed to the reader that unpacks into the CAS (narToCas,
 * relocating store references), then checked against NarSize and NarHash as the adapter does
 * after unpacking — the hash check comes last, so every mutated NAR is parsed. A narinfo is
 * parsed and its signature checked (require-sigs). The only outcomes allowed are a correct
 * parse or a NipError with a code — never an uncaught exception, a hang, or a write outside
 * the store. NIP_LONG_TESTS=1 runs ten times as many cases.
 */
import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync, sign } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Cas } from '@nip/cas'
import { NipError, type TreeEntry } from '@nip/core'
import { listTree, mutate, mutationOutcome, prng, withTimeout, writtenOutside } from '@nip/testing'
import { fingerprint, formatHashNix32, narToCas, parseNarInfo, parsePublicKey, parseStorePath, Relocation, requireSignature, writeNarNode, type NarNode } from '../src/index.js'

const LONG = process.env.NIP_LONG_TESTS === '1'
const PER_FORMAT = LONG ? 1000 : 100

const glibc = parseStorePath('/nix/store/a3a37ncl0r6s2ysb5m1l0nvhcqrag4xc-glibc-2.36')!
const hello = parseStorePath('/nix/store/5bkxwpp4s45fji6p3dp412dmnk0g6x56-hello-2.12')!

const NAR: NarNode = {
  type: 'directory',
  entries: {
    bin: {
      type: 'directory',
      entries: {
        hello: { type: 'regular', executable: true, contents: Buffer.from('#!/nix/store/a3a37ncl0r6s2ysb5m1l0nvhcqrag4xc-glibc-2.36/bin/sh\necho hello\n') },
        hi: { type: 'symlink', target: 'hello' },
      },
    },
    lib: {
      type: 'directory',
      entries: {
        'libc.so.6': { type: 'symlink', target: '/nix/store/a3a37ncl0r6s2ysb5m1l0nvhcqrag4xc-glibc-2.36/lib/libc.so.6' },
        'libhello.so.1': { type: 'regular', contents: Buffer.alloc(2000, 3) },
      },
    },
    share: {
      type: 'directory',
      entries: {
        doc: { type: 'directory', entries: { README: { type: 'regular', contents: Buffer.from('hello reads mutated input.\n'.repeat(12)) } } },
        empty: { type: 'directory', entries: {} },
        self: { type: 'symlink', target: '/nix/store/5bkxwpp4s45fji6p3dp412dmnk0g6x56-hello-2.12/bin/hello' },
        sh: { type: 'symlink', target: '/bin/sh' },
      },
    },
  },
}

function count(tally: Record<string, number>, key: string): void {
  tally[key] = (tally[key] ?? 0) + 1
}

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size)
}

/** Entries as comparable text: path, type, mode, and the blob's bytes or the link target. */
function describe_(entries: TreeEntry[], cas: Cas): string[] {
  return entries.map((e) => `${e.path} ${e.type} ${e.mode.toString(8)} ${e.type === 'file' ? createHash('sha256').update(fs.readFileSync(cas.pathOf(e.blob!))).digest('hex') : (e.target ?? '')}`)
}

describe('nix: mutated inputs end in a parse or a NipError, nothing else', function () {
  this.timeout(900000)
  const outcomes: Record<string, Record<string, number>> = {}
  after(() => {
    // The figures docs/reliability.md quotes.
    console.log(`      mutation outcomes (${PER_FORMAT} cases per format): ${JSON.stringify(outcomes)}`)
  })

  it(`NAR: ${PER_FORMAT} mutated NARs unpacked into the CAS`, async () => {
    const valid = Buffer.concat([...writeNarNode(NAR)])
    const narHash = createHash('sha256').update(valid).digest()
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-mut-nar-'))
    const tally: Record<string, number> = {}
    outcomes.NAR = tally
    const rnd = prng(0x4a5)
    try {
      const cas = new Cas(path.join(parent, 'cas'))
      const relocation = new Relocation({ storeDir: '/nix/store', programsDir: '/Programs' }, [hello, glibc])
      const unpack = (data: Buffer, chunk: number) =>
        narToCas(chunks(data, chunk), { cas, self: hello, relocation, archive: 'hello.nar', maxTotalSize: 1024 ** 3, maxEntries: 100000 })
      const expected = await unpack(valid, 4096)
      assert.equal(expected.size, valid.length)
      assert.ok(expected.digest.equals(narHash))
      const want = describe_(expected.entries, cas)
      for (let i = 0; i < PER_FORMAT; i++) {
        const { data, how } = mutate(valid, rnd)
        // Chunk sizes vary too, so the reader's chunk boundaries fall everywhere.
        const chunk = 1 + Math.floor(rnd() * 700)
        const label = `NAR case ${i} (${how}, chunks of ${chunk})`
        try {
          const r = await withTimeout(unpack(data, chunk), 20000, label)
          // What the adapter checks next (nixAdapter.ts unpack): NarSize, then NarHash.
          if (r.size !== valid.length) count(tally, 'parsed, then ERR_NIP_SIZE_MISMATCH')
          else if (!r.digest.equals(narHash)) count(tally, 'parsed, then ERR_NIP_HASH_MISMATCH')
          else {
            // Only the valid bytes pass both checks, and they unpack exactly as before.
            assert.deepEqual(describe_(r.entries, cas), want, label)
            count(tally, 'parsed')
          }
        } catch (e) {
          count(tally, mutationOutcome(e, label))
        }
        assert.deepEqual(writtenOutside(parent, ['cas']), [], `${label} wrote outside the store`)
        assert.deepEqual(listTree(path.join(parent, 'cas', 'tmp')), [], `${label} left a temporary file in the CAS`)
      }
    } finally {
      fs.rmSync(parent, { recursive: true, force: true })
    }
  })

  it(`narinfo: ${PER_FORMAT} mutated narinfos parsed and signature-checked`, async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
    const keys = [parsePublicKey(`mut-cache-1:${raw.toString('base64')}`)]
    const narHash = createHash('sha256').update(Buffer.concat([...writeNarNode(NAR)])).digest()
    const unsigned =
      'StorePath: /nix/store/5bkxwpp4s45fji6p3dp412dmnk0g6x56-hello-2.12\n' +
      'URL: nar/1w1fff338fvdw53sqgamddn1b2xgds473pv6y13gizdbqjv4i5p3.nar.xz\n' +
      'Compression: xz\n' +
      'FileHash: sha256:09ymwqf5i9q7d4dm7x4pjjcqqj0qrcp5lnznbh42gfsci5hcbqqm\n' +
      'FileSize: 4029\n' +
      `NarHash: ${formatHashNix32({ algorithm: 'sha256', digest: narHash })}\n` +
      'NarSize: 1234\n' +
      'References: 5bkxwpp4s45fji6p3dp412dmnk0g6x56-hello-2.12 a3a37ncl0r6s2ysb5m1l0nvhcqrag4xc-glibc-2.36\n' +
      'Deriver: g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-hello-2.12.drv\n'
    const info = parseNarInfo(unsigned)
    const signedFingerprint = fingerprint(info)
    const sig = sign(null, Buffer.from(signedFingerprint), privateKey).toString('base64')
    const valid = Buffer.from(`${unsigned}Sig: mut-cache-1:${sig}\nSig: other-cache-1:${'A'.repeat(86)}==\n`)
    assert.equal(requireSignature(parseNarInfo(valid.toString('utf8')), keys), 'mut-cache-1')
    const tally: Record<string, number> = {}
    outcomes.narinfo = tally
    const rnd = prng(0x1f0)
    for (let i = 0; i < PER_FORMAT; i++) {
      const { data, how } = mutate(valid, rnd)
      const label = `narinfo case ${i} (${how})`
      try {
        const parsed = parseNarInfo(data.toString('utf8'), { source: 'hello.narinfo' })
        requireSignature(parsed, keys, { source: 'hello.narinfo' })
        // A narinfo that still verifies names the same path, NAR and references.
        assert.equal(fingerprint(parsed), signedFingerprint, label)
        count(tally, 'verified')
      } catch (e) {
        if (!(e instanceof NipError)) throw new Error(`${label}: not a NipError: ${(e as Error).stack}`)
        count(tally, mutationOutcome(e, label))
      }
    }
  })
})
