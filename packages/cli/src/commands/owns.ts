import { Args } from '@oclif/core'
import type { OwnsResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderOwns } from '../render/queries.js'
import type { Style } from '../render/style.js'

export default class Owns extends BaseCommand<OwnsResult> {
  static override summary = 'Tell which grafted program owns a path (a link, a file, or a settings file).'
  static override description = 'PATH is absolute, or relative to the current directory; a path outside the root is taken as relative to the root.'
  static override examples = ['<%= config.bin %> owns System/Links/Executables/hello', '<%= config.bin %> owns /usr/local/nip/Programs/Hello/1.0/bin/hello']
  static override args = {
    path: Args.string({ description: 'The path to look up.', required: true }),
  }

  protected override async execute(): Promise<OwnsResult> {
    const { flags, args } = await this.parse(Owns)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.owns(args.path)
  }

  protected override renderHuman(result: OwnsResult, style: Style): string {
    return renderOwns(result, style)
  }
}
