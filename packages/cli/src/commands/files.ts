import { Args } from '@oclif/core'
import type { FilesResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderFiles } from '../render/discovery.js'
import type { Style } from '../render/style.js'

export default class Files extends BaseCommand<FilesResult> {
  static override summary = 'List the files of a grafted program (its current version) and the links to them.'
  static override examples = ['<%= config.bin %> files hello', '<%= config.bin %> files libgreet --json']
  static override args = {
    name: Args.string({ description: 'A grafted program.', required: true }),
  }

  protected override async execute(): Promise<FilesResult> {
    const { flags, args } = await this.parse(Files)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.files(args.name)
  }

  protected override renderHuman(result: FilesResult, style: Style): string {
    return renderFiles(result, style)
  }
}
