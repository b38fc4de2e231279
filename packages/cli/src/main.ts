/**
 * What bin/run.js needs besides the arguments: oclif's run and flush (bundled, see
 * scripts/bundle.mjs), and the handling of failures outside a command. The second entry point of
 * the CLI bundle, so that it shares one copy of every module with the commands.
 */
export { flush, run } from '@oclif/core'
export { reportTopLevelFailure } from './topLevel.js'
export { hoistGlobalFlags } from './argv.js'
