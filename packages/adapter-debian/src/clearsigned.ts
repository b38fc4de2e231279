/**
 * Splitting a clear-signed file (InRelease) into its signed text and signatures, with apt's strict
 * rules (`apt-pkg/contrib/gpgv.cc`, `SplitClearSignedFile`), before any signature is checked:
 * only the text inside the signed block is ever used, and ambiguous inputs are refused.
 *
 * - Every line is read with trailing whitespace removed.
 * - A first line other than `-----BEGIN PGP SIGNED MESSAGE-----` makes the file unsigned, unless
 *   that line appears later, which is refused ("does not start with a signed message block").
 * - Armor headers end at an empty line; a header line starting with `-` is refused; `Hash:`
 *   headers are collected.
 * - In the message, `- ` dash-escapes are removed; any other line starting with `-` except
 *   `-----BEGIN PGP SIGNATURE-----` is refused. The text is the message lines joined with "\n".
 * - After the first signature, only further complete signature blocks may follow; anything else
 *   is "unsigned lines", a line starting with `-` inside a signature is refused, and an unclosed
 *   signature is refused. Reaching the end of the file before the signature is refused.
 */
import { NipError } from '@nip/core'

export type SplitResult =
  | { signed: false; text: string }
  | { signed: true; text: string; hashHeaders: string[]; signatures: string[] }

const MESSAGE_START = '-----BEGIN PGP SIGNED MESSAGE-----'
const SIGNATURE_START = '-----BEGIN PGP SIGNATURE-----'
const SIGNATURE_END = '-----END PGP SIGNATURE-----'

/** apt's reasons, as stable short names (in error data) and messages. */
export type SplitFailure = 'not-at-start' | 'dash-armor' | 'dash-msg' | 'dash-sig' | 'unsigned-lines' | 'incomplete' | 'unclosed'

export function splitClearSigned(input: string, file = 'InRelease'): SplitResult {
  const lines = readLines(input)
  let at = 0
  const next = (): string | undefined => (at < lines.length ? lines[at++] : undefined)
  const first = next()
  if (first === undefined) return { signed: false, text: input }
  if (first !== MESSAGE_START) {
    for (let line = next(); line !== undefined; line = next()) {
      if (line === MESSAGE_START) throw refuse(file, 'not-at-start', `${file} does not start with a signed message block`)
    }
    return { signed: false, text: input }
  }
  const hashHeaders: string[] = []
  for (;;) {
    const line = next()
    if (line === undefined) throw refuse(file, 'incomplete', `Splitting ${file} failed: it does not contain all expected parts`)
    if (line === '') break
    if (line.startsWith('-')) throw refuse(file, 'dash-armor', `${file} contains an unexpected line starting with a dash (armor)`)
    if (line.startsWith('Hash: ')) hashHeaders.push(line)
  }
  const message: string[] = []
  for (;;) {
    const line = next()
    if (line === undefined) throw refuse(file, 'incomplete', `Splitting ${file} failed: it does not contain all expected parts`)
    if (line.startsWith('-')) {
      if (line === SIGNATURE_START) break
      if (line.startsWith('- ')) message.push(line.slice(2))
      else throw refuse(file, 'dash-msg', `${file} contains an unexpected line starting with a dash (msg)`)
    } else {
      message.push(line)
    }
  }
  const signatures: string[] = []
  let block: string[] = [SIGNATURE_START]
  let open = true
  for (let line = next(); line !== undefined; line = next()) {
    if (open) {
      block.push(line)
      if (line === SIGNATURE_END) {
        open = false
        signatures.push(block.join('\n') + '\n')
      } else if (line.startsWith('-')) {
        throw refuse(file, 'dash-sig', `${file} contains an unexpected line starting with a dash (sig)`)
      }
    } else if (line === SIGNATURE_START) {
      open = true
      block = [line]
    } else {
      throw refuse(file, 'unsigned-lines', `${file} contains unsigned lines`)
    }
  }
  if (open) throw refuse(file, 'unclosed', `The signature in ${file} is not closed`)
  return { signed: true, text: message.join('\n'), hashHeaders, signatures }
}

/**
 * Lines as apt's LineBuffer reads them: split at "\n", trailing whitespace removed. A final line
 * without "\n" still counts; the empty string after a final "\n" does not.
 */
function readLines(input: string): string[] {
  const lines = input.split('\n')
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return lines.map((l) => l.replace(/[ \t\r\n\f\v]+$/, ''))
}

function refuse(file: string, reason: SplitFailure, message: string): NipError {
  return new NipError('ERR_NIP_SIGNATURE_INVALID', message, {
    hint: 'The clear-signed file is malformed or tampered with; apt would refuse it too. Nothing from it was used.',
    data: { file, reason },
  })
}
