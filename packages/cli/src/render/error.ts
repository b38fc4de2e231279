/** Human rendering of a failure: `error[CODE]: message`, then `hint: …`, on stderr. */
import type { Failure } from '../failure.js'
import type { Style } from './style.js'

export function renderError(failure: Failure, style: Style, opts: { debug: boolean }): string {
  const lines = [`${style.red(style.bold(`error[${failure.code}]`))}: ${failure.message}`]
  if (failure.hint) lines.push(`${style.cyan('hint')}: ${failure.hint}`)
  if (opts.debug && failure.stack) lines.push(style.dim(failure.stack))
  return lines.join('\n') + '\n'
}
