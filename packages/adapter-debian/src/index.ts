/** The Debian source adapter: apt repositories and local .deb files. */
export { DebianAdapter, createAdapter } from './debianAdapter.js'
export { compareVersions, parseVersion, isValidVersion } from './versionCompare.js'
export { parseRelations, versionSatisfies } from './relation.js'
export { splitClearSigned } from './clearsigned.js'
export { mapDebPath, mapSymlinkTarget } from './debPath.js'
export { parseOneLineList, parseDeb822Sources } from './aptSources.js'
export { readDeb, readDebLayout, readDebControl } from './debPackage.js'
