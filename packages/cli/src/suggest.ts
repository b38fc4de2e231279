/**
 * "Did you mean" for commands: core's edit distance (a swap of two letters costs one), imported
 * from its own module so that a mistyped command loads neither SQLite nor an adapter.
 */
export { closest, editDistance } from '@nip/core/suggest'
