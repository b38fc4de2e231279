/**
 * The one way the unpacker refuses an entry: a NipError whose message names the entry and whose
 * data is `{ entry, archive? }`, so callers and tests can tell which member was hostile.
 */
import { NipError, type NipErrorCode } from '../errors.js'

export interface RefusalContext {
  /** The entry's path as written in the archive. */
  entry: string
  /** Name of the archive, for messages. */
  archive?: string
}

export function refuse(code: NipErrorCode, message: string, hint: string, ctx: RefusalContext): NipError {
  const where = ctx.archive ? ` in ${ctx.archive}` : ''
  return new NipError(code, `${message} (entry ${JSON.stringify(ctx.entry)}${where})`, {
    hint,
    data: ctx.archive === undefined ? { entry: ctx.entry } : { entry: ctx.entry, archive: ctx.archive },
  })
}
