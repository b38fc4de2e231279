/** The data `nip build --list-variants` and `nip info --recipe` show of a recipe. */
import type { BuildSettings } from '@nip/build'
import type { RecipeView } from './render/build.js'

type BuildModule = typeof import('@nip/build')

export function recipeView(build: BuildModule, settings: BuildSettings, name: string): RecipeView {
  const recipe = build.loadRecipe(settings.recipeDirs, name)
  const profiles = build.loadProfiles(settings.profileDirs)
  return {
    kind: 'recipe',
    name: recipe.name,
    version: recipe.version,
    summary: recipe.summary,
    ...(recipe.license ? { license: recipe.license } : {}),
    ...(recipe.homepage ? { homepage: recipe.homepage } : {}),
    file: recipe.file,
    system: recipe.build.system,
    sources: recipe.sources.map((s) => ({ file: s.file, sha256: s.sha256, ...(s.url ? { url: s.url } : {}), ...(s.debian ? { debian: s.debian } : {}) })),
    buildDependencies: recipe.buildDependencies,
    runtimeDependencies: recipe.runtimeDependencies,
    variants: [...recipe.variants.values()].map((v) =>
      v.kind === 'bool'
        ? { name: v.name, kind: 'bool' as const, default: v.default, summary: v.summary, requires: v.requires, conflicts: v.conflicts }
        : { name: v.name, kind: 'value' as const, default: v.default, values: v.values, summary: v.summary },
    ),
    profiles: [...profiles.values()].map((p) => ({ name: p.name, summary: p.summary })),
  }
}
