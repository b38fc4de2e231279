#!/usr/bin/env node
// nip's entry point. `nip --version` is answered here from package.json, without loading oclif
// (oclif would print the same line; see versionLine for where it does not). Everything else
// goes to oclif, which finds the commands through oclif.manifest.json, so --help loads no
// command module, no SQLite and no adapter, and loads the plugins package.json names. oclif,
// the commands, core and the adapters run from the bundle `npm run build` makes
// (scripts/bundle.mjs).
import { readFileSync } from 'node:fs'
import { arch, release } from 'node:os'
import { asksForVersion, hoistGlobalFlags, versionLine } from '../dist/bundle/argv.js'

const argv = hoistGlobalFlags(process.argv.slice(2))
const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const line = asksForVersion(argv, pjson.oclif?.additionalVersionFlags) ? versionLine(pjson, { platform: process.platform, arch: arch(), release: release(), node: process.version }) : null
if (line !== null) {
  process.stdout.write(line + '\n')
} else {
  const { flush, run, reportTopLevelFailure } = await import('../dist/bundle/main.js')
  try {
    await run(argv, import.meta.url)
    await flush()
  } catch (e) {
    await reportTopLevelFailure(e, argv)
  }
}
