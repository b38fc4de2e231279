import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../baseCommand.js'
import { renderCachePush, type CachePushResult } from '../../render/cache.js'
import type { Style } from '../../render/style.js'

export default class CachePush extends BaseCommand<CachePushResult> {
  static override summary = 'Publish grafted programs to an OCI registry (the fleet cache), signed.'
  static override description =
    'NAME is a grafted program (every grafted version of it, so every built variant) or NAME@VERSION; with none, every grafted program. Each becomes an OCI artifact tagged NAME-VERSION-<fingerprint> with a signed document (name, version, source, package id, variants, fingerprint, dependencies, tree digest, BLAKE3 of every file); content the registry already holds is not sent again. See docs/fleet.md.'
  static override examples = ['<%= config.bin %> cache push hello --to oci://registry.example.org:5000/team/nip', '<%= config.bin %> cache push --key ~/.nip/keys/team-1.secret']
  static override strict = false
  static override usage = '<%= command.id %> [NAME...] [--to oci://HOST[:PORT]/REPO]'
  static override args = {
    name: Args.string({ description: 'Program to push (NAME or NAME@VERSION); repeatable.', required: false }),
  }
  static override flags = {
    to: Flags.string({ description: 'The registry repository to push to (default: [oci] push-to, else the first of [oci] registries).', helpValue: 'oci://HOST[:PORT]/REPO' }),
    key: Flags.string({ description: 'Secret key file to sign with (default: the first of [oci] secret-key-files).', helpValue: 'FILE' }),
    unsigned: Flags.boolean({ description: 'Push without a signature (pulls refuse it unless [oci] require-sigs = false).' }),
  }

  protected override async execute(): Promise<CachePushResult> {
    const { flags, argv } = await this.parse(CachePush)
    this.useGlobals(flags)
    const [core, oci] = await Promise.all([import('@nip/core'), import('@nip/oci')])
    const loaded = await this.loadConfig()
    const settings = oci.readOciSettings(loaded.config.sources.find((s) => s.id === 'oci')?.table ?? {})
    const target = flags.to ? oci.parseRegistryRef(flags.to) : settings.pushTo
    if (!target) throw await this.usageError('Name the registry to push to.', 'Pass --to oci://HOST[:PORT]/REPO, or set [oci] push-to (or registries) in the configuration.')
    const keyFile = flags.key ?? settings.secretKeyFiles[0]
    if (!keyFile && !flags.unsigned) throw await this.usageError('No signing key is configured.', 'Create one with nip cache keygen NAME and set [oci] secret-key-files, pass --key FILE, or --unsigned.')
    const key = keyFile && !flags.unsigned ? oci.readSecretKeyFile(keyFile) : undefined
    const layout = new core.Layout(loaded.config)
    const db = core.Database.openReader(layout.dbPath, layout.cfs)
    if (!db) throw new core.NipError('ERR_NIP_NOT_INSTALLED', 'Nothing is grafted in this root.', { hint: 'Install or build something first.' })
    try {
      const cas = oci.storeReader(layout.casDir)
      const rows = oci.selectPrograms(db, argv as string[])
      const client = oci.clientFor(target, settings, { reporter: this.reporter })
      const mountFrom = settings.registries.filter((r) => r.host === target.host && r.repository !== target.repository).map((r) => r.repository)
      const pushed = await oci.pushPrograms({ db, cas, rows, client, ...(key ? { key } : {}), jobs: settings.jobs, mountFrom, reporter: this.reporter })
      return { registry: target.url, programs: pushed }
    } finally {
      db.close()
    }
  }

  protected override renderHuman(result: CachePushResult, style: Style): string {
    return renderCachePush(result, style)
  }
}
