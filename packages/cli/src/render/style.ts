/**
 * Terminal styling. Colour is used only when the stream is a TTY, NO_COLOR is unset or empty,
 * and --no-color was not given (https://no-color.org).
 */
export interface Style {
  readonly enabled: boolean
  bold(s: string): string
  dim(s: string): string
  red(s: string): string
  green(s: string): string
  yellow(s: string): string
  cyan(s: string): string
}

const sgr = (on: number, off: number) => (s: string) => `\x1b[${on}m${s}\x1b[${off}m`

export function createStyle(enabled: boolean): Style {
  if (!enabled) {
    const id = (s: string) => s
    return { enabled, bold: id, dim: id, red: id, green: id, yellow: id, cyan: id }
  }
  return { enabled, bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), cyan: sgr(36, 39) }
}

export function colorWanted(opts: { noColorFlag: boolean; isTTY: boolean; env: Record<string, string | undefined> }): boolean {
  return !opts.noColorFlag && opts.isTTY && !opts.env.NO_COLOR
}
