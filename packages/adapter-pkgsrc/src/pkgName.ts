/**
 * PKGNAME = PKGBASE "-" PKGVERSION, split at the last hyphen (pkg_install and pkgin both do;
 * versions never contain "-").
 */
export interface PkgName {
  name: string
  version: string
}

/** Null when there is no hyphen or either side is empty. */
export function splitPkgName(pkgname: string): PkgName | null {
  const dash = pkgname.lastIndexOf('-')
  if (dash <= 0 || dash === pkgname.length - 1) return null
  return { name: pkgname.slice(0, dash), version: pkgname.slice(dash + 1) }
}
