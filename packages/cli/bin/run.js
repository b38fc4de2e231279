#!/usr/bin/env node
// nip's entry point: oclif finds the commands through oclif.manifest.json, so --help and
// --version load no command module, no SQLite and no adapter. The commands, core and the
// adapters run from the bundle `npm run build` makes (scripts/bundle.mjs).
import { flush, run } from '@oclif/core'
import { reportTopLevelFailure, hoistGlobalFlags } from '../dist/bundle/main.js'

const argv = hoistGlobalFlags(process.argv.slice(2))
try {
  await run(argv, import.meta.url)
  await flush()
} catch (e) {
  await reportTopLevelFailure(e, argv)
}
