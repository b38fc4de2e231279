/**
 * The bootstrap menu (install minimal tools / use a container / manual steps / another source),
 * shared by `nip bootstrap install` and `nip build --source` on a terminal: @inquirer/prompts'
 * select on stderr, the recommended choice preselected, unavailable ones shown disabled with why.
 */
import type { Detection } from '@nip/build'

export async function chooseBootstrap(detection: Detection, message: string): Promise<string> {
  const { select } = await import('@inquirer/prompts')
  return select(
    {
      message,
      default: detection.recommended,
      choices: detection.choices.map((c) => ({ value: c.id as string, name: c.label, description: c.detail, ...(c.available ? {} : { disabled: `(${c.detail})` }) })),
    },
    { output: process.stderr },
  )
}
