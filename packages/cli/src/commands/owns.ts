import { Args } from '@oclif/core'
import type { OwnsResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderOwns } from '../render/queries.js'
import type { Style } from '../render/style.js'

export default class Owns extends BaseCommand<OwnsResult> {
  static override summary = 'Tell which grafted program owns a path (a link, a file, or a settings file).'
  static override description = 'PATH is absolute, or relative to the current directory; a path outside the root is taken as relative to the root. Exits 1 when no grafted program owns the path (like dpkg -S and pacman -Qo).'
  static override examples = ['<%= config.bin %> owns System/Links/Executables/hello', '<%= config.bin %> owns /usr/local/nip/Programs/Hello/1.0/bin/hello']
  static override args = {
    path: Args.string({ description: 'The path to look up.', required: true }),
  }

  protected override async execute(): Promise<OwnsResult> {
    const { flags, args } = await this.parse(Owns)
    this.useGlobals(flags)
    const nip = await this.openNip()
    const result = await nip.owns(args.path)
    // Like `dpkg -S` and `pacman -Qo`: a path no program owns is exit status 1.
    if (result.kind === 'none' || !result.owner) process.exitCode = 1
    return result
  }

  protected override renderHuman(result: OwnsResult, style: Style): string {
    return renderOwns(result, style)
  }
}
