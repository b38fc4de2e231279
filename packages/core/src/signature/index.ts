export { readKeyring, combineKeyrings, verifyDetached, verifyCleartext, PublicKeyring } from './openpgp.js'
export type { DetachedVerification, CleartextVerification } from './openpgp.js'
