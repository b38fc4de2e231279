/**
 * Shell completion scripts for bash, zsh and fish, made from oclif's command list (the manifest:
 * no command module is loaded). They complete command names (`config show` as two words), each
 * command's flags, the values of flags with a fixed set, and the names of grafted programs for
 * the commands that take one; those come from `nip list --names` (hidden), with the `--root` the
 * command line names, when the user asks for completion.
 */

export interface CompletionCommand {
  /** Words of the command: `['config', 'show']`. */
  words: string[]
  summary: string
  /** `--long` names (and `-c` chars) of its flags, hidden ones left out. */
  flags: { name: string; char?: string; summary: string; takesValue: boolean; options?: string[] }[]
  /** The fixed values its arguments take (`completion bash|zsh|fish`). */
  values?: string[]
}

/** Commands whose arguments are grafted programs. */
export const PROGRAM_COMMANDS = new Set(['remove', 'switch', 'info', 'list', 'pin', 'unpin', 'verify', 'files', 'why', 'upgrade', 'outdated'])

const quoteSh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

function commandKey(c: CompletionCommand): string {
  return c.words.join(' ')
}

/** The words that may follow `prefix` (first words at the top level, sub-commands after a topic). */
function nextWords(commands: CompletionCommand[], prefix: string[]): string[] {
  const out = new Set<string>()
  for (const c of commands) if (c.words.length > prefix.length && prefix.every((w, i) => c.words[i] === w)) out.add(c.words[prefix.length])
  return [...out].sort()
}

export function bashScript(bin: string, commands: CompletionCommand[]): string {
  const cases: string[] = []
  const groups = new Set<string>([''])
  for (const c of commands) for (let i = 1; i < c.words.length; i++) groups.add(c.words.slice(0, i).join(' '))
  const keys = new Set([...commands.map(commandKey), ...groups])
  for (const key of [...keys].sort()) {
    const c = commands.find((x) => commandKey(x) === key)
    const words = [...nextWords(commands, key === '' ? [] : key.split(' ')), ...(c?.values ?? []), ...(c ? c.flags.flatMap((f) => [`--${f.name}`, ...(f.char ? [`-${f.char}`] : [])]) : key === '' ? ['--help', '--version'] : [])]
    const programs = c && PROGRAM_COMMANDS.has(c.words[0]) && c.words.length === 1
    const values = c ? c.flags.filter((f) => f.options).map((f) => `      --${f.name}) COMPREPLY=($(compgen -W ${quoteSh(f.options!.join(' '))} -- "$cur")); return ;;`) : []
    const valued = c ? c.flags.filter((f) => f.takesValue && !f.options).map((f) => `--${f.name}`) : []
    cases.push(
      `    ${quoteSh(key)})`,
      `      words=${quoteSh(words.join(' '))}`,
      ...(programs ? ['      programs=1'] : []),
      ...(values.length + valued.length > 0 ? ['      case "$prev" in', ...values, ...(valued.length ? [`      ${valued.join('|')}) return ;;`] : []), '      esac'] : []),
      '      ;;',
    )
  }
  return `# ${bin} completion for bash: \`eval "$(${bin} completion bash)"\` in ~/.bashrc, or save it as
# ~/.local/share/bash-completion/completions/${bin}
_${bin}_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local key="" w i root="" words="" programs=0 skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      --root) root="\${COMP_WORDS[i+1]}"; skip=1; continue ;;
      --root=*) root="\${w#--root=}"; continue ;;
      --config) skip=1; continue ;;
      -*) continue ;;
    esac
    case "\${key:+$key }$w" in
      ${[...keys].filter((k) => k !== '').sort().map(quoteSh).join('|')}) key="\${key:+$key }$w" ;;
      *) break ;;
    esac
  done
  case "$key" in
${cases.join('\n')}
  esac
  if [[ "$cur" != -* ]] && ((programs)); then
    words="$words $(${bin} list --names \${root:+--root "$root"} 2>/dev/null)"
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(printf '%s\\n' $words | grep -v '^-')" -- "$cur"))
  fi
}
complete -o default -F _${bin}_complete ${bin}
`
}

export function zshScript(bin: string, commands: CompletionCommand[]): string {
  return `# ${bin} completion for zsh: \`eval "$(${bin} completion zsh)"\` in ~/.zshrc, after compinit.
# It runs the bash completion through zsh's bashcompinit.
autoload -U +X bashcompinit && bashcompinit
${bashScript(bin, commands).replace(/^#.*\n#.*\n/, '')}`
}

export function fishScript(bin: string, commands: CompletionCommand[]): string {
  const fq = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
  const lines = [
    `# ${bin} completion for fish: \`${bin} completion fish > ~/.config/fish/completions/${bin}.fish\``,
    `function __${bin}_programs`,
    '    set -l args (commandline -opc)',
    '    set -l root',
    '    for i in (seq (count $args))',
    '        if test "$args[$i]" = --root; and test $i -lt (count $args)',
    '            set root --root $args[(math $i + 1)]',
    "        else if string match -q -- '--root=*' $args[$i]",
    '            set root $args[$i]',
    '        end',
    '    end',
    `    command ${bin} list --names $root 2>/dev/null`,
    'end',
    `complete -c ${bin} -f`,
    `complete -c ${bin} -n __fish_use_subcommand -s h -l help -d 'Show help'`,
    `complete -c ${bin} -n __fish_use_subcommand -s v -l version -d 'Show the version'`,
  ]
  const seen = (words: string[]): string => words.map((w) => `__fish_seen_subcommand_from ${w}`).join('; and ')
  const tops = new Map<string, string>()
  for (const c of commands) if (!tops.has(c.words[0])) tops.set(c.words[0], c.words.length === 1 ? c.summary : `${c.words[0]} commands`)
  for (const [w, summary] of [...tops].sort()) lines.push(`complete -c ${bin} -n __fish_use_subcommand -a ${w} -d ${fq(summary)}`)
  for (const c of commands) {
    if (c.words.length > 1) {
      const siblings = nextWords(commands, c.words.slice(0, -1))
      lines.push(`complete -c ${bin} -n ${fq(`${seen(c.words.slice(0, -1))}; and not __fish_seen_subcommand_from ${siblings.join(' ')}`)} -a ${c.words[c.words.length - 1]} -d ${fq(c.summary)}`)
    }
    const when = fq(seen(c.words))
    for (const f of c.flags) {
      const value = f.options ? ` -x -a ${fq(f.options.join(' '))}` : f.takesValue ? ' -r' : ''
      lines.push(`complete -c ${bin} -n ${when} -l ${f.name}${f.char ? ` -s ${f.char}` : ''}${value} -d ${fq(f.summary)}`)
    }
    if (c.values) lines.push(`complete -c ${bin} -n ${when} -a ${fq(c.values.join(' '))}`)
    if (c.words.length === 1 && PROGRAM_COMMANDS.has(c.words[0])) lines.push(`complete -c ${bin} -n ${when} -a '(__${bin}_programs)'`)
    if (['install', 'graft', 'build'].includes(c.words[0])) lines.push(`complete -c ${bin} -n ${when} -F`)
  }
  return lines.join('\n') + '\n'
}
