/** "Did you mean" for commands: core's edit distance (a swap of two letters costs one). */
export { closest, editDistance } from '@nip/core'
