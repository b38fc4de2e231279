/**
 * Symlink targets inside a program tree, shared by the adapters that move package paths into
 * the Gobo layout (a package's /usr/bin/x becomes bin/x, its /etc/x becomes Settings/x).
 *
 * Settings live beside the version directories (`Programs/<Name>/Settings`), not inside one: a
 * link from the tree into Settings climbs out of its version directory once, and that one climb
 * is the only way out of a tree core accepts (transaction.ts, `escapes`).
 */

/**
 * The relative target of a link in tree directory `fromDir` to tree path `to` (both as
 * components, "" components excluded). A target under Settings from outside Settings climbs
 * out of the version directory.
 */
export function treeLinkTarget(fromDir: readonly string[], to: readonly string[]): string {
  if (to[0] === 'Settings' && fromDir[0] !== 'Settings') return ['..', ...fromDir.map(() => '..'), ...to].join('/')
  let common = 0
  while (common < fromDir.length && common < to.length && fromDir[common] === to[common]) common++
  const rel = [...fromDir.slice(common).map(() => '..'), ...to.slice(common)].join('/')
  return rel === '' ? '.' : rel
}

/** Whether `target`, of the link at tree path `linkPath`, is the one climb to Settings that treeLinkTarget writes. */
export function climbsToSettings(linkPath: string, target: string): boolean {
  const parts = target.split('/')
  const ups = parts.filter((c) => c === '..').length
  const rest = parts.filter((c) => c !== '..')
  return rest[0] === 'Settings' && ups === linkPath.split('/').length && parts.slice(0, ups).every((c) => c === '..')
}
