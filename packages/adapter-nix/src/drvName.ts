/**
 * builtins.parseDrvName (NixOS/nix src/libstore/names.cc): the name is everything before the
 * first "-" that is not followed by a letter (C-locale isalpha); the version is the rest.
 */
export interface DrvName {
  name: string
  version: string
}

export function parseDrvName(s: string): DrvName {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '-' && i + 1 < s.length && !/[A-Za-z]/.test(s[i + 1])) return { name: s.slice(0, i), version: s.slice(i + 1) }
  }
  return { name: s, version: '' }
}
