/**
 * The --json envelope: stdout carries exactly one JSON document per run.
 *   {"ok":true,"command":"install","result":…}
 *   {"ok":false,"command":"install","error":{"code","message","hint","data"},"exitCode":N}
 * This is a stable interface: fields are added, never renamed or removed.
 */
import type { Failure } from './failure.js'

export interface SuccessEnvelope<R = unknown> {
  ok: true
  command: string
  result: R
}

export interface FailureEnvelope {
  ok: false
  command: string
  error: { code: string; message: string; hint: string | null; data: Record<string, unknown> }
  exitCode: number
}

export function successEnvelope<R>(command: string, result: R): SuccessEnvelope<R> {
  return { ok: true, command, result }
}

export function failureEnvelope(command: string, failure: Failure): FailureEnvelope {
  return { ok: false, command, error: { code: failure.code, message: failure.message, hint: failure.hint, data: failure.data }, exitCode: failure.exitCode }
}

/** Whether --json appears before any `--` (decided before parsing, so parse errors are enveloped too). */
export function jsonRequested(argv: string[]): boolean {
  const end = argv.indexOf('--')
  const json = argv.indexOf('--json')
  return json !== -1 && (end === -1 || json < end)
}
