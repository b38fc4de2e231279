export * from './types.js'
export { Cas } from './cas.js'
