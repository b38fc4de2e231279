/**
 * Any thrown value → the stable failure shape of the CLI (code, message, hint, data, exit code).
 * NipErrors keep their code; oclif's parse errors become ERR_NIP_USAGE (64); anything else is
 * ERR_NIP_INTERNAL (70). Recognises NipError by shape so that this module (and the top-level
 * handler) never loads core.
 */
import { Errors } from '@oclif/core'

export const USAGE_EXIT = 64
export const INTERNAL_EXIT = 70

export interface Failure {
  code: string
  message: string
  hint: string | null
  data: Record<string, unknown>
  exitCode: number
  /** Shown only with NIP_DEBUG=1. */
  stack?: string
}

interface NipErrorShape extends Error {
  code: string
  hint?: string
  data?: Record<string, unknown>
  exitCode: number
}

function isNipErrorShape(e: unknown): e is NipErrorShape {
  return e instanceof Error && e.name === 'NipError' && typeof (e as NipErrorShape).code === 'string' && typeof (e as NipErrorShape).exitCode === 'number'
}

/**
 * An oclif CLIError, from the bundled @oclif/core or a plugin's own copy (an `instanceof` of
 * one copy's class does not see the other's errors).
 */
export function isCliError(e: unknown): e is Errors.CLIError {
  if (e instanceof Errors.CLIError) return true
  return e instanceof Error && typeof (e as { oclif?: unknown }).oclif === 'object' && (e as { oclif?: unknown }).oclif !== null
}

/** oclif's ExitError (an explicit exit with its own code), from any copy of @oclif/core. */
export function isExitError(e: unknown): e is Errors.ExitError {
  if (e instanceof Errors.ExitError) return true
  return isCliError(e) && (e as { code?: unknown }).code === 'EEXIT' && typeof (e as { oclif: { exit?: unknown } }).oclif.exit === 'number'
}

export function toFailure(e: unknown, opts: { command?: string } = {}): Failure {
  if (isNipErrorShape(e)) {
    return { code: e.code, message: e.message, hint: e.hint ?? null, data: e.data ?? {}, exitCode: e.exitCode, ...(e.stack ? { stack: e.stack } : {}) }
  }
  if (isCliError(e)) {
    const message = e.message.split('\n').filter((l) => l.trim() !== '' && !/^See more help with/.test(l)).join(' ').trim()
    return {
      code: 'ERR_NIP_USAGE',
      message: message || 'The command line is malformed.',
      hint: `Run "nip ${opts.command ? `${opts.command} ` : ''}--help" for usage.`,
      data: {},
      exitCode: USAGE_EXIT,
      ...(e.stack ? { stack: e.stack } : {}),
    }
  }
  const err = e instanceof Error ? e : new Error(String(e))
  return {
    code: 'ERR_NIP_INTERNAL',
    message: `Internal error: ${err.message}`,
    hint: 'This is a bug in nip. Run again with NIP_DEBUG=1 to see the stack trace, and report it.',
    data: {},
    exitCode: INTERNAL_EXIT,
    ...(err.stack ? { stack: err.stack } : {}),
  }
}
