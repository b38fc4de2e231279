/**
 * The EAPI-dependent rules this adapter applies (PMS feature tables). An unknown or absent EAPI
 * gets Portage's permissive defaults (every feature on, empty groups false).
 */
export interface EapiRules {
  /** `|| ( )` and `^^ ( )` count as satisfied (EAPI 0-6). */
  emptyGroupsAlwaysTrue: boolean
  /** `?? ( )` in REQUIRED_USE (EAPI 5+). */
  atMostOneOf: boolean
  /** `->` in SRC_URI (EAPI 2+). */
  srcUriArrows: boolean
  /** `fetch+`/`mirror+` in SRC_URI (EAPI 8+). */
  selectiveSrcUriRestriction: boolean
}

const KNOWN = new Set(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])

export function eapiRules(eapi: string | undefined): EapiRules {
  if (eapi === undefined || eapi === '' || !KNOWN.has(eapi)) {
    return { emptyGroupsAlwaysTrue: false, atMostOneOf: true, srcUriArrows: true, selectiveSrcUriRestriction: true }
  }
  const n = Number(eapi)
  return { emptyGroupsAlwaysTrue: n <= 6, atMostOneOf: n >= 5, srcUriArrows: n >= 2, selectiveSrcUriRestriction: n >= 8 }
}
