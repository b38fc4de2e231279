/**
 * What bin/run.js needs besides oclif: the second entry point of the CLI bundle, so that it
 * shares one copy of every module with the commands (scripts/bundle.mjs).
 */
export { reportTopLevelFailure } from './topLevel.js'
export { hoistGlobalFlags } from './argv.js'
