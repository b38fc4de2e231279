import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../baseCommand.js'
import { renderCacheKeygen, type CacheKeygenResult } from '../../render/cache.js'
import type { Style } from '../../render/style.js'

export default class CacheKeygen extends BaseCommand<CacheKeygenResult> {
  static override summary = 'Make an Ed25519 key pair for signing what nip cache push publishes.'
  static override description =
    'Writes the secret key to FILE (mode 0600; default ~/.nip/keys/NAME.secret) and the public key beside it (.pub), in the format of Nix binary cache keys (NAME:BASE64). Put the secret key file in [oci] secret-key-files on the machines that push, and the public key in [oci] trusted-public-keys everywhere. An existing file is never overwritten.'
  static override examples = ['<%= config.bin %> cache keygen team-cache-1', '<%= config.bin %> cache keygen team-cache-1 --out /etc/nip/team-cache-1.secret']
  static override args = {
    name: Args.string({ description: 'The key\'s name (letters, digits, ".", "_", "-"), e.g. team-cache-1.', required: true }),
  }
  static override flags = {
    out: Flags.string({ description: 'Where to write the secret key.', helpValue: 'FILE' }),
  }

  protected override async execute(): Promise<CacheKeygenResult> {
    const { flags, args } = await this.parse(CacheKeygen)
    this.useGlobals(flags)
    const [core, oci] = await Promise.all([import('@nip/core'), import('@nip/oci')])
    const pair = oci.generateKeyPair(args.name)
    const secretFile = path.resolve(flags.out ?? path.join(process.env.HOME || os.homedir(), '.nip', 'keys', `${args.name}.secret`))
    const publicFile = secretFile.replace(/\.secret$/, '') + '.pub'
    try {
      fs.mkdirSync(path.dirname(secretFile), { recursive: true, mode: 0o700 })
      // 'wx': an existing key is never replaced (a lost secret key cannot be made again).
      fs.writeFileSync(secretFile, pair.secret + '\n', { mode: 0o600, flag: 'wx' })
      fs.writeFileSync(publicFile, pair.public + '\n', { mode: 0o644, flag: 'wx' })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new core.NipError('ERR_NIP_USAGE', `${(e as NodeJS.ErrnoException).path} already exists; it was left unchanged.`, { hint: 'Choose another name or --out FILE.', data: { path: (e as NodeJS.ErrnoException).path } })
      }
      throw core.fromSystemError(e, 'writing the key', secretFile)
    }
    return { name: args.name, secretFile, publicFile, publicKey: pair.public }
  }

  protected override renderHuman(result: CacheKeygenResult, style: Style): string {
    return renderCacheKeygen(result, style)
  }
}
