import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as openpgp from 'openpgp'
import { combineKeyrings, readKeyring, verifyCleartext, verifyDetached } from '../src/signature/openpgp.js'
import type { NipError } from '../src/errors.js'

async function rejects(p: Promise<unknown>): Promise<NipError> {
  try {
    await p
  } catch (e) {
    return e as NipError
  }
  assert.fail('expected a rejection')
}

async function generate(name: string, extra: { date?: Date; keyExpirationTime?: number } = {}): Promise<{ privateKey: openpgp.PrivateKey; publicKey: openpgp.PublicKey }> {
  return openpgp.generateKey({ userIDs: [{ name, email: `${name.toLowerCase()}@example.org` }], format: 'object', ...extra })
}

async function signDetached(data: Buffer, key: openpgp.PrivateKey, date?: Date): Promise<Uint8Array> {
  const message = await openpgp.createMessage({ binary: new Uint8Array(data) })
  return (await openpgp.sign({ message, signingKeys: key, detached: true, format: 'binary', ...(date ? { date } : {}) })) as Uint8Array
}

const DATA = Buffer.from('pkgname = hello\npkgver = 2.12-1\n')

describe('signature: openpgp', function () {
  let alice: Awaited<ReturnType<typeof generate>>
  let bob: Awaited<ReturnType<typeof generate>>
  before(async () => {
    ;[alice, bob] = await Promise.all([generate('Alice'), generate('Bob')])
  })

  it('verifies a detached binary and armored signature; names key id, fingerprint and user ids', async () => {
    const keyring = await readKeyring(alice.publicKey.armor())
    const sig = await signDetached(DATA, alice.privateKey)
    const r = await verifyDetached({ data: DATA, signature: Buffer.from(sig), keyring })
    const signingKeyId = (await alice.privateKey.getSigningKey()).getKeyID().toHex().toUpperCase()
    assert.deepEqual(r, { valid: true, keyId: signingKeyId, fingerprint: alice.publicKey.getFingerprint().toUpperCase(), userIds: ['Alice <alice@example.org>'] })
    const armored = openpgp.armor(openpgp.enums.armor.signature, sig)
    assert.equal((await verifyDetached({ data: DATA, signature: armored, keyring })).keyId, signingKeyId)
  })

  it('tampered data: ERR_NIP_SIGNATURE_INVALID', async () => {
    const keyring = await readKeyring(alice.publicKey.armor())
    const sig = Buffer.from(await signDetached(DATA, alice.privateKey))
    const tampered = Buffer.from(DATA)
    tampered[0] ^= 1
    const e = await rejects(verifyDetached({ data: tampered, signature: sig, keyring }))
    assert.equal(e.code, 'ERR_NIP_SIGNATURE_INVALID')
    assert.equal(e.data.reason, 'bad-signature')
  })

  it('signed by a key not in the keyring: ERR_NIP_KEY_UNKNOWN naming the key id', async () => {
    const keyring = await readKeyring(alice.publicKey.armor())
    const sig = Buffer.from(await signDetached(DATA, bob.privateKey))
    const e = await rejects(verifyDetached({ data: DATA, signature: sig, keyring }))
    const bobKeyId = (await bob.privateKey.getSigningKey()).getKeyID().toHex().toUpperCase()
    assert.equal(e.code, 'ERR_NIP_KEY_UNKNOWN')
    assert.equal(e.message, `Signed by key ${bobKeyId}, which is not in the trusted keyring`)
    assert.deepEqual(e.data.keyIds, [bobKeyId])
    // ...and accepted once Bob is added.
    const both = combineKeyrings(keyring, await readKeyring(Buffer.from(bob.publicKey.write())))
    assert.equal((await verifyDetached({ data: DATA, signature: sig, keyring: both })).fingerprint, bob.publicKey.getFingerprint().toUpperCase())
  })

  it('missing or malformed signatures', async () => {
    const keyring = await readKeyring(alice.publicKey.armor())
    assert.equal((await rejects(verifyDetached({ data: DATA, signature: Buffer.alloc(0), keyring }))).code, 'ERR_NIP_SIGNATURE_MISSING')
    assert.equal((await rejects(verifyDetached({ data: DATA, signature: '  \n', keyring }))).code, 'ERR_NIP_SIGNATURE_MISSING')
    const garbage = await rejects(verifyDetached({ data: DATA, signature: Buffer.from('not a signature at all'), keyring }))
    assert.equal(garbage.code, 'ERR_NIP_SIGNATURE_INVALID')
    assert.equal(garbage.data.reason, 'malformed')
    // A packet that parses but names no signature type (0x41): openpgp.verify throws a plain
    // Error there, which must still end as a malformed signature, not escape.
    const sig = Buffer.from(await signDetached(DATA, alice.privateKey))
    assert.ok(sig[0] & 0x40, 'openpgp writes new-format packets')
    const body = sig[1] < 192 ? 2 : sig[1] < 224 ? 3 : 6
    assert.equal(sig[body], 4, 'a version 4 signature')
    sig[body + 1] = 0x41
    const odd = await rejects(verifyDetached({ data: DATA, signature: sig, keyring }))
    assert.equal(odd.code, 'ERR_NIP_SIGNATURE_INVALID')
    assert.equal(odd.data.reason, 'malformed')
  })

  it('a key expired now: ERR_NIP_SIGNATURE_INVALID (expired), even for a signature made while valid', async () => {
    const made = new Date(Date.now() - 3 * 86400_000)
    const old = await generate('Old', { date: made, keyExpirationTime: 86400 })
    const sig = Buffer.from(await signDetached(DATA, old.privateKey, new Date(made.getTime() + 60_000)))
    const e = await rejects(verifyDetached({ data: DATA, signature: sig, keyring: await readKeyring(old.publicKey.armor()) }))
    assert.equal(e.code, 'ERR_NIP_SIGNATURE_INVALID')
    assert.equal(e.data.reason, 'expired')
  })

  it('a revoked key: ERR_NIP_SIGNATURE_INVALID (revoked)', async () => {
    const sig = Buffer.from(await signDetached(DATA, alice.privateKey))
    const { publicKey } = await openpgp.revokeKey({ key: alice.privateKey, format: 'object' })
    const e = await rejects(verifyDetached({ data: DATA, signature: sig, keyring: await readKeyring(publicKey.armor()) }))
    assert.equal(e.code, 'ERR_NIP_SIGNATURE_INVALID')
    assert.equal(e.data.reason, 'revoked')
  })

  it('cleartext: returns the signed text; tampering and unsigned text fail', async () => {
    const text = 'Origin: Test\nSuite: stable\n-dash line\n'
    const signed = await openpgp.sign({ message: await openpgp.createCleartextMessage({ text }), signingKeys: alice.privateKey })
    const keyring = await readKeyring(alice.publicKey.armor())
    const r = await verifyCleartext({ text: signed, keyring })
    assert.equal(r.data, text)
    assert.equal(r.fingerprint, alice.publicKey.getFingerprint().toUpperCase())
    const tampered = await rejects(verifyCleartext({ text: signed.replace('Suite: stable', 'Suite: evil'), keyring }))
    assert.equal(tampered.code, 'ERR_NIP_SIGNATURE_INVALID')
    assert.equal((await rejects(verifyCleartext({ text, keyring }))).code, 'ERR_NIP_SIGNATURE_MISSING')
    assert.equal((await rejects(verifyCleartext({ text: signed, keyring: await readKeyring(bob.publicKey.armor()) }))).code, 'ERR_NIP_KEY_UNKNOWN')
  })

  it('keyrings: several armored keys, binary keys, garbage', async () => {
    const two = await readKeyring(alice.publicKey.armor() + '\n' + bob.publicKey.armor())
    assert.deepEqual(two.fingerprints, [alice.publicKey.getFingerprint().toUpperCase(), bob.publicKey.getFingerprint().toUpperCase()])
    const binary = Buffer.concat([Buffer.from(alice.publicKey.write()), Buffer.from(bob.publicKey.write())])
    assert.equal((await readKeyring(binary)).fingerprints.length, 2)
    assert.equal((await rejects(readKeyring(Buffer.from('garbage')))).code, 'ERR_NIP_KEYRING_INVALID')
  })
})

function hasGpg(): boolean {
  try {
    execFileSync('gpg', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

describe('signature: interop with gpg', function () {
  let home: string
  before(async function () {
    if (!hasGpg()) {
      console.log('  (skipped: gpg not installed)')
      return this.skip()
    }
    home = await mkdtemp(join(tmpdir(), 'nip-gpg-'))
    const gpg = (...args: string[]): Buffer => execFileSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    gpg('--quick-gen-key', 'Packager <packager@example.org>', 'ed25519', 'sign', 'never')
    await writeFile(join(home, 'pkg'), DATA)
    gpg('--detach-sign', '--output', join(home, 'pkg.sig'), join(home, 'pkg'))
    await writeFile(join(home, 'Release'), 'Origin: Test\nSuite: stable\n')
    gpg('--clearsign', '--output', join(home, 'InRelease'), join(home, 'Release'))
    await writeFile(join(home, 'pub.gpg'), gpg('--export'))
    await writeFile(join(home, 'fpr'), gpg('--with-colons', '--list-keys'))
  })
  after(async () => {
    if (!home) return
    try {
      execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { stdio: 'ignore' })
    } catch {}
    await rm(home, { recursive: true, force: true })
  })

  it('verifies gpg --detach-sign and --clearsign output with the exported key', async () => {
    const keyring = await readKeyring(await readFile(join(home, 'pub.gpg')))
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(await readFile(join(home, 'fpr'), 'utf8'))![1]
    const d = await verifyDetached({ data: DATA, signature: await readFile(join(home, 'pkg.sig')), keyring })
    assert.equal(d.fingerprint, fpr)
    assert.deepEqual(d.userIds, ['Packager <packager@example.org>'])
    assert.equal(d.keyId, fpr!.slice(-16))
    const c = await verifyCleartext({ text: await readFile(join(home, 'InRelease'), 'utf8'), keyring })
    assert.equal(c.data, 'Origin: Test\nSuite: stable')
    const bad = await rejects(verifyDetached({ data: Buffer.concat([DATA, Buffer.from('x')]), signature: await readFile(join(home, 'pkg.sig')), keyring }))
    assert.equal(bad.code, 'ERR_NIP_SIGNATURE_INVALID')
  })
})
