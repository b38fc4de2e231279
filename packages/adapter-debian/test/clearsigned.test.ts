/**
 * apt's SplitClearSignedFile cases (test/libapt/openmaybeclearsignedfile_test.cc, inputs
 * reproduced here) and the rows of debian-clearsigned-split.tsv they prove.
 */
import { strict as assert } from 'node:assert'
import { readFileSync } from 'node:fs'
import { isNipError } from '@nip/core'
import { splitClearSigned } from '../src/clearsigned.js'

const SIG =
  '-----BEGIN PGP SIGNATURE-----\n\niQFEBAEBCgAuFiEENKjp0Y2zIPNn6OqgWpDRQdusja4FAlhT7+kQHGpvZUBleGFt\n' +
  'cGxlLm9yZwAKCRBakNFB26yNrjvEB/9/e3jA1l0fvPafx9LEXcH8CLpUFQK7ra9l\n=TB1F\n-----END PGP SIGNATURE-----\n'
const HEAD = '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n'

/** apt test name -> [input, expected text or failure reason or 'unsigned']. */
const CASES: Record<string, [string, string]> = {
  SimpleSignedFile: [`${HEAD}Test\n${SIG}`, 'text:Test'],
  WhitespaceSignedFile: [
    '-----BEGIN PGP SIGNED MESSAGE----- \t    \nHash:    SHA512     \n\t   \nTest\t\n-----BEGIN PGP SIGNATURE----- \n   \niQFE \t\n=TB1F\t\n-----END PGP SIGNATURE-----',
    'text:Test',
  ],
  SignedFileWithContentHeaders: [`-----BEGIN PGP SIGNED MESSAGE-----\nVersion: 0.8.15~exp1\nHash: SHA512\nComment: I love you!\nX-Expires: never\nMultilines: no\n yes\n maybe\n\nTest\n${SIG}`, 'text:Test'],
  SignedFileWithTwoSignatures: [`${HEAD}Test\n${SIG}${SIG}`, 'text:Test'],
  TwoSimpleSignedFile: [`${HEAD}Test\n${SIG}${HEAD}Test\n${SIG}`, 'unsigned-lines'],
  UnsignedFile: ['Test', 'unsigned'],
  GarbageTop: [`Garbage\n${HEAD}Test\n${SIG}`, 'not-at-start'],
  GarbageHeader: [`-----BEGIN PGP SIGNED MESSAGE----- Garbage\nHash: SHA512\n\nTest\n${SIG}`, 'unsigned'],
  GarbageBottom: [`${HEAD}Test\n${SIG}Garbage`, 'unsigned-lines'],
  BogusNoSig: [`${HEAD}Test`, 'incomplete'],
  BogusSigStart: [`${HEAD}Test\n-----BEGIN PGP SIGNATURE-----`, 'unclosed'],
  DashedSignedFile: [`${HEAD}- Test\n${SIG}`, 'text:Test'],
  StrangeDashArmorFile: [`-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n-----BEGIN PGP SIGNATURE-----\n\nTest\n${SIG}`, 'dash-armor'],
  StrangeDashMsgFile: [`${HEAD}-Test\n${SIG}`, 'dash-msg'],
  StrangeDashSigFile: [`${HEAD}Test\n-----BEGIN PGP SIGNATURE-----\n\niQFE\n-Garbage\n-----END PGP SIGNATURE-----\n`, 'dash-sig'],
}

function outcome(input: string): string {
  try {
    const r = splitClearSigned(input)
    return r.signed ? `text:${r.text}` : 'unsigned'
  } catch (e) {
    assert.ok(isNipError(e, 'ERR_NIP_SIGNATURE_INVALID'))
    return String(e.data.reason)
  }
}

describe('clear-signed splitting (apt rules)', () => {
  const rows = readFileSync(new URL('./fixtures/debian-clearsigned-split.tsv', import.meta.url), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l !== '')
    .map((l) => l.split('\t'))
  const aptRows = rows.filter((r) => !r[0].endsWith('.dsc'))

  it('covers every apt row of the vector file', () => {
    assert.deepEqual(aptRows.map((r) => r[0]).sort(), Object.keys(CASES).sort())
  })

  for (const [name, expected] of aptRows) {
    it(`${name}: ${expected}`, () => {
      const got = outcome(CASES[name][0])
      assert.equal(got, CASES[name][1])
      // The vector's verdict: ok rows give text or unsigned, error rows a refusal.
      if (expected.startsWith('ok')) assert.ok(got.startsWith('text:') || got === 'unsigned')
      else assert.ok(!got.startsWith('text:') && got !== 'unsigned')
    })
  }

  it('keeps only the signed text: dash-unescaped, joined with newlines, Hash headers collected', () => {
    const r = splitClearSigned(`${HEAD}Origin: x\n- -not-a-header\nSuite: y\n${SIG}`)
    assert.ok(r.signed)
    assert.equal(r.text, 'Origin: x\n-not-a-header\nSuite: y')
    assert.deepEqual(r.hashHeaders, ['Hash: SHA512'])
    assert.equal(r.signatures.length, 1)
  })
})
