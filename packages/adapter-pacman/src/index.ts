/**
 * The pacman source adapter: sync repositories (pacman.conf or `[pacman]`), signed packages and
 * databases, pacman's version ordering and dependency semantics. See docs/pacman.md.
 */
export { createAdapter, PacmanAdapter, dependencyOf } from './pacmanAdapter.js'
export { vercmp, rpmvercmp } from './vercmp.js'
export { parseDep, packageSatisfies, provisionSatisfies, versionMatches } from './depString.js'
export type { PacmanDep, DepOperator } from './depString.js'
export { parseSigLevel } from './sigLevel.js'
export { parsePacmanConfig, parsePacmanConf } from './pacmanConfig.js'
export { readSyncDatabase, parseBlocks, splitName, isValidFilename } from './syncDatabase.js'
export type { SyncPackage } from './syncDatabase.js'
export { parseMtree } from './mtree.js'
export { mapMemberPath } from './memberPath.js'
export { remapTarget } from './packagePayload.js'
export { parsePkginfo, parseKeyValues } from './packageInfo.js'
export { parsePackageFileName } from './packageFile.js'
