import { Args, Command } from '@oclif/core'
import { bashScript, fishScript, zshScript, type CompletionCommand } from '../completion.js'

export default class Completion extends Command {
  static override summary = 'Print the shell completion script for bash, zsh or fish.'
  static override description =
    'Completes commands, flags, fixed flag values and the names of grafted programs (in the --root the command line names). bash: eval "$(nip completion bash)" in ~/.bashrc (or save it as ~/.local/share/bash-completion/completions/nip); zsh: eval "$(nip completion zsh)" in ~/.zshrc after compinit; fish: nip completion fish > ~/.config/fish/completions/nip.fish.'
  static override examples = ['<%= config.bin %> completion bash', '<%= config.bin %> completion fish > ~/.config/fish/completions/nip.fish']
  static override args = {
    shell: Args.string({ description: 'The shell (default: the one $SHELL names).', options: ['bash', 'zsh', 'fish'] }),
  }

  async run(): Promise<void> {
    const { args } = await this.parse(Completion)
    const shell = args.shell ?? (process.env.SHELL ?? '').split('/').pop() ?? ''
    if (!['bash', 'zsh', 'fish'].includes(shell)) {
      process.stderr.write(`error[ERR_NIP_USAGE]: Name the shell: bash, zsh or fish ($SHELL is "${process.env.SHELL ?? ''}").\nhint: nip completion bash\n`)
      process.exitCode = 64
      return
    }
    // From the manifest: no command module is loaded.
    const commands: CompletionCommand[] = this.config.commands
      .filter((c) => !c.hidden && c.id !== 'help' && c.pluginType === 'core')
      .map((c) => ({
        words: c.id.split(':'),
        summary: (c.summary ?? c.description ?? '').split('\n')[0],
        flags: Object.values(c.flags)
          .filter((f) => !f.hidden)
          .map((f) => ({ name: f.name, ...(f.char ? { char: f.char } : {}), summary: (f.summary ?? f.description ?? '').split('\n')[0], takesValue: f.type === 'option', ...(f.type === 'option' && f.options ? { options: [...f.options] } : {}) })),
        ...(Object.values(c.args ?? {}).some((a) => a.options) ? { values: Object.values(c.args).flatMap((a) => a.options ?? []) } : {}),
      }))
      .sort((a, b) => a.words.join(' ').localeCompare(b.words.join(' ')))
    commands.push({ words: ['help'], summary: 'Show help for a command.', flags: [] })
    const bin = this.config.bin
    process.stdout.write(shell === 'bash' ? bashScript(bin, commands) : shell === 'zsh' ? zshScript(bin, commands) : fishScript(bin, commands))
  }
}
