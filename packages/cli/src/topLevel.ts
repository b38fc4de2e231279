/**
 * Failures that happen outside a command (unknown command, broken installation): oclif throws
 * them from run(). They get the same treatment as a command's own failures — an envelope with
 * --json, `error[CODE]` otherwise — and never load core.
 */
import { Errors } from '@oclif/core'
import { failureEnvelope, jsonRequested } from './envelope.js'
import { toFailure, USAGE_EXIT, type Failure } from './failure.js'
import { renderError } from './render/error.js'
import { colorWanted, createStyle } from './render/style.js'
import { closest } from './suggest.js'

export async function reportTopLevelFailure(e: unknown, argv: string[]): Promise<void> {
  // An explicit exit (oclif's ExitError) carries its own code and has already printed.
  if (e instanceof Errors.ExitError) {
    process.exitCode = e.oclif.exit ?? 0
    return
  }
  const words = argv.filter((a) => !a.startsWith('-'))
  // `nip help nosuch`: the unknown command is the one help was asked about.
  const command = (words[0] === 'help' && words.length > 1 ? words.slice(1).join(' ') : words[0]) ?? ''
  let failure: Failure = toFailure(e)
  // oclif's own message, or @oclif/plugin-not-found's (which asks "Did you mean …?" on a
  // terminal and otherwise fails with exit 127): one usage error, with nip's own suggestion.
  if (e instanceof Errors.CLIError && (/command .* not found/i.test(e.message) || (e.oclif?.exit === 127 && /list of available commands/.test(e.message)))) {
    const { COMMANDS } = await import('./commandIndex.js')
    const near = closest(command, Object.keys(COMMANDS).map((id) => id.split(':').join(' ')))
    const hint = near.length > 0 ? `Did you mean ${near.map((n) => `"nip ${n}"`).join(' or ')}? Run "nip help" for the list of commands.` : 'Run "nip --help" for the list of commands.'
    failure = { ...failure, code: 'ERR_NIP_USAGE', message: `Unknown command "${command}".`, hint, data: { command, ...(near.length > 0 ? { suggestions: near } : {}) }, exitCode: USAGE_EXIT }
  }
  process.exitCode = failure.exitCode
  if (jsonRequested(argv)) {
    process.stdout.write(JSON.stringify(failureEnvelope(command, failure)) + '\n')
    return
  }
  const style = createStyle(colorWanted({ noColorFlag: argv.includes('--no-color'), isTTY: Boolean(process.stderr.isTTY), env: process.env }))
  process.stderr.write(renderError(failure, style, { debug: process.env.NIP_DEBUG === '1' }))
}
