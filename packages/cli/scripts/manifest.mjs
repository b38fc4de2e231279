// Writes packages/cli/oclif.manifest.json from the compiled commands (run after tsc -b), so that
// oclif lists commands and shows help without importing any command module.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Plugin } from '@oclif/core'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const target = path.join(root, 'oclif.manifest.json')
// A stale manifest must not be read back as the source of truth.
fs.rmSync(target, { force: true })
const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true })
await plugin.load()
const ids = Object.keys(plugin.manifest.commands)
if (ids.length === 0) throw new Error(`no commands found under ${root}/dist/commands; run tsc -b first`)
fs.writeFileSync(target, JSON.stringify(plugin.manifest, null, 2) + '\n')
console.log(`oclif.manifest.json: ${ids.length} commands (${ids.sort().join(', ')})`)
