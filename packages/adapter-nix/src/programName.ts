/**
 * How a store path becomes a program name and version.
 *
 * The store name is split with parseDrvName. A multi-output derivation names its non-default
 * outputs `<pname>-<version>-<output>` (`openssl-3.0.12-dev`); such a trailing known output
 * becomes part of the program name (`openssl-dev` 3.0.12), so each output is its own program and
 * `Current` of one never hides another. The default output `out` has no suffix. A store name
 * without a version (`source`, `hello`) gets the first 8 characters of its hash part as its
 * version, so two such paths never share a version directory.
 */
import { parseDrvName } from './drvName.js'
import type { StorePath } from './storePath.js'

/** Output names nixpkgs uses for split packages. */
export const KNOWN_OUTPUTS = new Set(['bin', 'dev', 'lib', 'man', 'doc', 'devdoc', 'info', 'debug', 'static', 'out', 'modules', 'terminfo', 'include'])

const RESERVED = new Set(['current', 'settings', 'variable'])

export interface ProgramName {
  name: string
  version: string
  /** The output this store path is, when the name says so ('out' otherwise). */
  output: string
}

export function programNameOf(p: StorePath): ProgramName {
  let { name, version } = parseDrvName(p.name)
  let output = 'out'
  const dash = version.lastIndexOf('-')
  if (dash > 0 && KNOWN_OUTPUTS.has(version.slice(dash + 1))) {
    output = version.slice(dash + 1)
    version = version.slice(0, dash)
    if (output !== 'out') name = `${name}-${output}`
  }
  if (version === '' || version.startsWith('.') || version.startsWith('-')) version = version === '' ? p.hashPart.slice(0, 8) : `0${version}`
  if (name.startsWith('.') || RESERVED.has(name.toLowerCase())) name = `nix-${name}`
  return { name, version, output }
}
