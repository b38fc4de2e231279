// Bundles the compiled CLI and nip's own packages (@nip/*) into packages/cli/dist/bundle (run
// after tsc -b, before manifest.mjs). Node 20 resolves, reads and compiles each ES module on its
// own: with the CLI, core and an adapter as ~150 separate modules that was ~40 ms of every
// command's start-up. Third-party packages stay external (native addons, oclif, openpgp), and
// dynamic imports stay lazy: core and each adapter become chunks loaded when a command asks for
// them (splitting). Entry points, one module graph: `commands` (oclif's explicit command
// discovery, see package.json), `main` (what bin/run.js needs), and core and each adapter under
// their own names (a dynamic import of one loads that file: stack traces and load checks can tell
// which package ran).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const outdir = path.join(cli, 'dist', 'bundle')

/** Bare imports outside @nip/ are left to Node at run time. */
const thirdPartyExternal = {
  name: 'third-party-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@nip/') ? undefined : { path: args.path, external: true }))
  },
}

const packages = path.resolve(cli, '..')
const entryPoints = { commands: path.join(cli, 'dist', 'commandIndex.js'), main: path.join(cli, 'dist', 'main.js'), core: path.join(packages, 'core', 'dist', 'index.js') }
for (const id of ['gobo', 'nix', 'pkgsrc', 'pacman', 'gentoo', 'debian']) entryPoints[`adapter-${id}`] = path.join(packages, `adapter-${id}`, 'dist', 'index.js')
entryPoints.build = path.join(packages, 'build', 'dist', 'index.js')
entryPoints.oci = path.join(packages, 'oci', 'dist', 'index.js')

// Chunk names carry content hashes: what an earlier build left would pile up.
fs.rmSync(outdir, { recursive: true, force: true })
const result = await build({
  entryPoints,
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Named chunks, so a stack trace says which package a frame came from.
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  plugins: [thirdPartyExternal],
})
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'))
console.log(`CLI bundle: ${outputs.length} files in ${path.relative(process.cwd(), outdir)}`)
