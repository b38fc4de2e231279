/**
 * Failures that happen outside a command (unknown command, broken installation): oclif throws
 * them from run(). They get the same treatment as a command's own failures — an envelope with
 * --json, `error[CODE]` otherwise — and never load core.
 */
import { failureEnvelope, jsonRequested } from './envelope.js'
import { isCliError, isExitError, toFailure, USAGE_EXIT, type Failure } from './failure.js'
import { renderError } from './render/error.js'
import { colorWanted, createStyle } from './render/style.js'

export function reportTopLevelFailure(e: unknown, argv: string[]): void {
  // An explicit exit (oclif's ExitError) carries its own code and has already printed.
  if (isExitError(e)) {
    process.exitCode = e.oclif.exit ?? 0
    return
  }
  const command = argv.find((a) => !a.startsWith('-')) ?? ''
  let failure: Failure = toFailure(e)
  if (isCliError(e) && /command .* not found/i.test(e.message)) {
    failure = { ...failure, code: 'ERR_NIP_USAGE', message: `Unknown command "${command}".`, hint: 'Run "nip --help" for the list of commands.', data: { command }, exitCode: USAGE_EXIT }
  }
  process.exitCode = failure.exitCode
  if (jsonRequested(argv)) {
    process.stdout.write(JSON.stringify(failureEnvelope(command, failure)) + '\n')
    return
  }
  const style = createStyle(colorWanted({ noColorFlag: argv.includes('--no-color'), isTTY: Boolean(process.stderr.isTTY), env: process.env }))
  process.stderr.write(renderError(failure, style, { debug: process.env.NIP_DEBUG === '1' }))
}
