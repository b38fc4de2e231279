/** The CLI's programmatic surface: the envelope and failure shapes other tools may rely on. */
export type { SuccessEnvelope, FailureEnvelope } from './envelope.js'
export type { Failure } from './failure.js'
export { successEnvelope, failureEnvelope, jsonRequested } from './envelope.js'
export { toFailure } from './failure.js'
