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

/** What an atom may contain under an EAPI (PMS "EAPIs"; Portage `_get_eapi_attrs`). */
export interface AtomRules {
  /** `:slot` (EAPI 1+). */
  slotDeps: boolean
  /** `:=`, `:*`, `:slot=` and `:slot/subslot` (EAPI 5+). */
  slotOperators: boolean
  /** `[use,deps]` (EAPI 2+). */
  useDeps: boolean
  /** `(+)`/`(-)` defaults in USE dependencies (EAPI 4+). */
  useDepDefaults: boolean
  /** `!!` strong blockers (EAPI 2+). */
  strongBlocks: boolean
  /** `::repo` (no official EAPI; only atoms read without an EAPI). */
  repoDeps: boolean
}

/** The atom rules of an EAPI; no (or an unknown) EAPI allows everything, as Portage does. */
export function atomRules(eapi: string | undefined): AtomRules {
  if (eapi === undefined || eapi === '' || !KNOWN.has(eapi)) {
    return { slotDeps: true, slotOperators: true, useDeps: true, useDepDefaults: true, strongBlocks: true, repoDeps: true }
  }
  const n = Number(eapi)
  return { slotDeps: n >= 1, slotOperators: n >= 5, useDeps: n >= 2, useDepDefaults: n >= 4, strongBlocks: n >= 2, repoDeps: false }
}
