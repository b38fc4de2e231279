/**
 * Profiles: `profiles/<name>.toml`, named flag sets (lto, cpu-native, hardened, debug, size) with
 * compiler and linker flags and per-build-system options (docs/recipes.md). A profile is switched
 * on by `+name` on the command line (when the recipe has no variant of that name) or by the
 * configuration's `[build] profiles`.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { BUILD_SYSTEMS, listRecipes, type BuildSystem } from './recipe.js'
import { Reader, TomlFile } from './schema.js'

export interface Profile {
  name: string
  summary: string
  cflags: string[]
  cxxflags: string[]
  ldflags: string[]
  /** Options per build system (configure/cmake/meson options, make variables). */
  options: Partial<Record<BuildSystem, string[]>>
  /** Profiles this one cannot be combined with. */
  conflicts: string[]
  file: string
  text: string
}

export function parseProfile(file: string, text: string): Profile {
  const toml = new TomlFile(file, text)
  const top = new Reader(toml, toml.doc, '')
  const name = path.basename(file, '.toml')
  const summary = top.requiredString('summary')
  const options: Partial<Record<BuildSystem, string[]>> = {}
  for (const sys of BUILD_SYSTEMS) {
    const t = top.table_(sys)
    if (!t) continue
    options[sys] = t.strings('options')
    t.done()
  }
  const profile: Profile = { name, summary, cflags: top.strings('cflags'), cxxflags: top.strings('cxxflags'), ldflags: top.strings('ldflags'), options, conflicts: top.strings('conflicts'), file, text }
  top.done()
  return profile
}

/** Every profile of some directories (the first directory that has a name wins, as for recipes). */
export function loadProfiles(dirs: readonly string[]): Map<string, Profile> {
  const out = new Map<string, Profile>()
  for (const [name, file] of listRecipes(dirs)) out.set(name, parseProfile(file, readFileSync(file, 'utf8')))
  return out
}
