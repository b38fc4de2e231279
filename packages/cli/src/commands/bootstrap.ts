import { Args, Flags } from '@oclif/core'
import type { Style } from '../render/style.js'
import { BaseCommand } from '../baseCommand.js'
import { renderBootstrap, type BootstrapView } from '../render/bootstrap.js'

const ACTIONS = ['list', 'install', 'remove', 'info', 'recipes', 'update-recipes'] as const
type Action = (typeof ACTIONS)[number]

export default class Bootstrap extends BaseCommand<BootstrapView> {
  static override summary = "Find, install or remove an ecosystem's build tools (gentoo, nix, pkgsrc, container) for nip build --source."
  static override description =
    'ACTION is one of list, install TOOL, remove TOOL, info TOOL, recipes, update-recipes. Each tool is looked for on the host, then among the programs nip grafted, then as a container image; when missing, install offers to install minimal tools into this root (for container: to make the Podman build image through its API, from debootstrap or pulled from [build] container-image), to use a container, to show the manual steps, or to try another source (a menu on a terminal, the recommended choice with --yes, the choices as data with --json). Tools are grafted under the root like any program and never into the host. See docs/bootstrap.md.'
  static override examples = ['<%= config.bin %> bootstrap list', '<%= config.bin %> bootstrap info gentoo', '<%= config.bin %> bootstrap install gentoo --yes', '<%= config.bin %> bootstrap install container --yes', '<%= config.bin %> bootstrap remove gentoo', '<%= config.bin %> bootstrap update-recipes']
  static override mutates = true
  static override args = {
    action: Args.string({ description: 'list | install | remove | info | recipes | update-recipes', required: true, options: [...ACTIONS] }),
    tool: Args.string({ description: 'The tool (gentoo, nix, pkgsrc, container).' }),
  }
  static override flags = {
    force: Flags.boolean({ description: 'install: install into the root even when the tool is already on the host (the container image: make or pull it again). remove: drop the record of the container image even when Podman cannot be asked.' }),
    choice: Flags.string({ description: 'install: take this choice instead of asking (install, container, manual, source:ID).', helpValue: 'CHOICE' }),
    repository: Flags.string({ description: "install: the tool's repository, a directory or a snapshot URL (overrides [build] TOOL-repository).", helpValue: 'DIR|URL' }),
  }

  private repositoryFlag: { tool: string; location: string } | undefined

  protected override async loadConfig(): Promise<import('@nip/core').LoadedConfig> {
    const core = await import('@nip/core')
    // Only a tool whose repository is a [build] key takes the override; for the others the
    // recipe check below refuses --repository with a usage error.
    const key = this.repositoryFlag ? `${this.repositoryFlag.tool}-repository` : undefined
    const flags = key !== undefined && core.SOURCE_KEYS.build?.includes(key) ? { build: { [key]: this.repositoryFlag!.location } } : undefined
    return core.loadConfig({ root: this.globals.root, env: process.env, ...(this.globals.configFile ? { configFile: this.globals.configFile } : {}), ...(flags ? { flags } : {}) })
  }

  protected override async execute(): Promise<BootstrapView> {
    const { flags, args } = await this.parse(Bootstrap)
    this.useGlobals(flags)
    const action = args.action as Action
    const needsTool = action === 'install' || action === 'remove' || action === 'info'
    if (needsTool && !args.tool) throw await this.usageError(`nip bootstrap ${action} needs a TOOL.`, 'Example: nip bootstrap info gentoo (nip bootstrap list shows the tools).', { action })
    if (!needsTool && args.tool) throw await this.usageError(`nip bootstrap ${action} takes no TOOL ("${args.tool}").`, 'Example: nip bootstrap list.', { action, tool: args.tool })
    if (flags.repository !== undefined) {
      if (action !== 'install') throw await this.usageError(`--repository goes with nip bootstrap install, not ${action}.`, 'Example: nip bootstrap install gentoo --repository DIR.', { action })
      this.repositoryFlag = { tool: args.tool!, location: flags.repository }
    }
    const [build, core] = await Promise.all([import('@nip/build'), import('@nip/core')])
    const loaded = await this.loadConfig()
    const context = build.bootstrapContext((id) => loaded.config.sources.find((s) => s.id === id)?.table ?? {})
    const settings = context.settings
    const layout = new core.Layout(loaded.config)
    const dirs = build.bootstrapRecipeDirs(settings, layout)
    const command = this.commandLine
    switch (action) {
      case 'list':
        return { kind: 'list', tools: await Promise.all(build.listTools(settings, layout).map((r) => build.detectTool(r, layout, { context }))) }
      case 'recipes':
        return {
          kind: 'recipes',
          dirs,
          recipes: build.listTools(settings, layout).map((r) => ({ tool: r.name, version: r.version, file: r.file, installable: r.installable, sources: r.sources.map((s) => ({ role: s.role, url: s.url, sha256: s.sha256, signed: s.signatureUrl !== undefined })), packages: r.packages, ...(r.image && r.container ? { image: { name: r.container.image, ...r.image } } : {}) })),
        }
      case 'update-recipes':
        return { kind: 'update', ...(await build.updateRecipes({ settings, layout, reporter: this.reporter })) }
      case 'info': {
        const recipe = build.loadBootstrapRecipe(dirs, args.tool!, settings)
        return { kind: 'info', detection: await build.detectTool(recipe, layout, { context }), manual: recipe.manual, sources: recipe.sources.map((s) => ({ role: s.role, url: s.url, sha256: s.sha256, into: s.into })), packages: recipe.packages }
      }
      case 'remove': {
        const recipe = build.loadBootstrapRecipe(dirs, args.tool!, settings)
        const grafted = build.graftedTool(layout, recipe.program)
        if (!grafted) {
          throw new core.NipError('ERR_NIP_NOT_INSTALLED', `nip has not installed ${recipe.name} (${recipe.program}) in this root.`, { hint: 'nip bootstrap list shows where each tool was found; a tool on the host is not nip\'s to remove.', data: { tool: recipe.name, program: recipe.program } })
        }
        // An image goes first (through Podman's API), then its record: a remove killed between the
        // two leaves a record doctor reports, and running remove again finishes it.
        let image: { removed: boolean; detail: string } | undefined
        const record = recipe.image ? build.readImageRecord(grafted.dir) : null
        if (record) {
          try {
            image = await build.removeImage(settings.podmanSocket, record)
          } catch (e) {
            if (!flags.force) throw e
            image = { removed: false, detail: `${(e as Error).message} The record was dropped anyway (--force); remove ${record.image} from Podman yourself.` }
          }
        }
        const nip = await this.openNip()
        const removed = await nip.remove([recipe.program], { command, kind: 'bootstrap' })
        return { kind: 'remove', tool: recipe.name, program: recipe.program, version: grafted.version, removed, ...(image ? { image } : {}) }
      }
      case 'install': {
        const recipe = build.loadBootstrapRecipe(dirs, args.tool!, settings)
        if (flags.repository !== undefined && !recipe.repository) throw await this.usageError(`${recipe.name} takes no --repository (its recipe has no [repository]).`, `Example: nip bootstrap install gentoo --repository DIR.`, { tool: recipe.name })
        const detection = await build.detectTool(recipe, layout, { context })
        // --repository on a tool nip installed: install it again with that repository. An image
        // nip recorded that Podman no longer has is made again.
        const lostImage = detection.status === 'nip' && detection.image !== undefined && !detection.image.present && !/does not answer/.test(detection.image.detail)
        const again = flags.force || (flags.repository !== undefined && detection.status === 'nip') || lostImage
        if ((detection.status === 'host' || detection.status === 'nip') && !again) {
          const onHost = detection.image ? `Podman already has the image ${detection.image.name} (${detection.image.id?.slice(0, 19) ?? 'present'}), not made by nip` : `${recipe.name} is already on the host (${Object.values(detection.host.commands).join(', ')})`
          return { kind: 'install', detection, chosen: null, outcome: detection.status === 'host' ? `${onHost}; nothing to do (--force installs it into the root anyway).` : `${recipe.name} is already installed by nip (${recipe.program} ${detection.nip.version}${detection.image?.record ? `: image ${detection.image.record.id.slice(0, 19)}` : ''}).` }
        }
        let chosen: string | null = null
        if (flags.choice !== undefined) {
          if (!detection.choices.some((c) => c.id === flags.choice)) throw await this.usageError(`"${flags.choice}" is not a choice for ${recipe.name}.`, `Choices: ${detection.choices.map((c) => c.id).join(', ')}.`, { choice: flags.choice })
          chosen = flags.choice
        } else if (this.globals.yes) chosen = detection.recommended
        else if (this.globals.interactive) {
          const { chooseBootstrap } = await import('../bootstrapMenu.js')
          chosen = await chooseBootstrap(detection, lostImage ? `Podman no longer has the image ${detection.image!.name} nip made. What should nip do?` : `${recipe.name} is not on this host. What should nip do?`)
        }
        if (chosen === null) return { kind: 'install', detection, chosen: null, outcome: `${recipe.name} is missing; nothing was done. Choose with --yes (recommended: ${detection.recommended}) or --choice.` }
        const choice = detection.choices.find((c) => c.id === chosen)!
        if (!choice.available) throw new core.NipError('ERR_NIP_NOT_AVAILABLE', `${choice.label}: not available here. ${choice.detail}`, { hint: `Other choices: ${detection.choices.filter((c) => c.available).map((c) => c.id).join(', ')}.`, data: { tool: recipe.name, choice: chosen } })
        if (chosen === 'install') {
          const nip = await this.openNip()
          const specs = recipe.packages.length > 0 ? recipe.packages : [`build:bootstrap:${recipe.name}`]
          // An image is always made afresh: a record a kept generation holds would be revived
          // without the image it names.
          const result = await nip.install(specs, { command, kind: 'bootstrap', ...(recipe.packages.length > 0 ? {} : { source: 'build' }), ...(again || recipe.image ? { reinstall: true } : {}) })
          const after = await build.detectTool(recipe, layout, { context, probeContainer: recipe.image !== undefined })
          const made = after.image?.record
          return { kind: 'install', detection: after, chosen, install: result, outcome: made ? `${recipe.name}: ${made.image} is the image ${made.id.slice(0, 19)} (${made.from === 'registry' ? `pulled from ${made.reference}` : `debootstrap ${made.suite} from ${made.mirror}`}; ${made.check.output}), recorded as ${recipe.program} ${recipe.version}.` : `${recipe.name}: ${recipe.program} grafted into this root.` }
        }
        if (chosen === 'container') return { kind: 'install', detection, chosen, outcome: `Build in the container ${detection.container.image}: nip build --container … (docs/build.md).` }
        if (chosen === 'manual') return { kind: 'install', detection, chosen, manual: recipe.manual, outcome: `Manual steps for ${recipe.name}:` }
        return { kind: 'install', detection, chosen, outcome: `Try the ${chosen.slice('source:'.length)} source instead: nip install --source ${chosen.slice('source:'.length)} NAME.` }
      }
    }
  }

  protected override renderHuman(result: BootstrapView, style: Style): string {
    return renderBootstrap(result, style)
  }
}
