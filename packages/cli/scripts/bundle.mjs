// Bundles the compiled CLI and nip's own packages (@nip/*) into packages/cli/dist/bundle (run
// after tsc -b, before manifest.mjs). Node 20 resolves, reads and compiles each ES module on its
// own: with the CLI, core and an adapter as ~150 separate modules that was ~40 ms of every
// command's start-up. @oclif/core is bundled too: it is ~160 CommonJS files (with its
// dependencies), and resolving, reading and wrapping them one by one cost every command about
// 50 ms of CPU; in the bundle they are one file. Its plugins (package.json `oclif.plugins`)
// still load from node_modules at run time, with their own copy of @oclif/core, as oclif
// plugins of another @oclif/core version always do. Other third-party packages stay external
// (native addons, openpgp), and dynamic imports stay lazy: core and each adapter become chunks
// loaded when a command asks for them (splitting). Entry points, one module graph: `commands`
// (oclif's explicit command discovery, see package.json), `main` (what bin/run.js needs: oclif's
// run), `argv` (what bin/run.js reads before deciding to load oclif at all), and core and each
// adapter under their own names (a dynamic import of one loads that file: stack traces and load
// checks can tell which package ran).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { build } from 'esbuild'

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const outdir = path.join(cli, 'dist', 'bundle')

const require = createRequire(import.meta.url)
/** Where @oclif/core's files are (`lib/`), and the packages its files may import. */
const oclifLib = path.join(path.dirname(require.resolve('@oclif/core/package.json')), 'lib')
const oclifPackage = /[\\/]node_modules[\\/]@oclif[\\/]core[\\/]/

/**
 * Bare imports outside @nip/ are left to Node at run time, except @oclif/core and what its own
 * files import (bundled, see above). typescript and ts-node, which oclif loads only to run a
 * plugin from TypeScript sources (never in nip), stay external.
 */
const thirdPartyExternal = {
  name: 'third-party-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@nip/') || args.path.startsWith('node:')) return args.path.startsWith('node:') ? { path: args.path, external: true } : undefined
      if (args.path === 'typescript' || args.path === 'ts-node') return { path: args.path, external: true }
      if (args.path === '@oclif/core' || args.path.startsWith('@oclif/core/')) return undefined
      // A dependency of a bundled third-party file (oclif's own dependencies) is bundled as well.
      if (/[\\/]node_modules[\\/]/.test(args.importer)) return undefined
      return { path: args.path, external: true }
    })
  },
}

/**
 * oclif's files read files beside them (its package.json, for its version and Node range):
 * `__dirname` and `__filename` in them name their place in node_modules, found at run time
 * from the bundle's location (the bundle is not moved without its node_modules).
 */
const oclifPaths = {
  name: 'oclif-paths',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      if (!oclifPackage.test(args.path)) return undefined
      const rel = path.relative(oclifLib, args.path).split(path.sep).join('/')
      if (rel.startsWith('..')) return undefined
      let contents = fs.readFileSync(args.path, 'utf8')
      if (!/__dirname|__filename/.test(contents)) return { contents, loader: 'js' }
      const dir = path.posix.dirname(rel)
      contents =
        `var __filename = __nipOclifLib() + ${JSON.stringify('/' + rel)}, __dirname = __nipOclifLib() + ${JSON.stringify(dir === '.' ? '' : '/' + dir)};\n` + contents
      return { contents, loader: 'js' }
    })
  },
}

/**
 * Bundled CommonJS calls require() at run time (oclif loads plugins and reads JSON that way):
 * an ES module has none, so each output file gets one, resolving from the bundle's directory.
 */
const banner = [
  "import { createRequire as __nipCreateRequire } from 'node:module';",
  'const require = __nipCreateRequire(import.meta.url);',
  // Resolved when an oclif file that needs it first runs, not when the bundle loads.
  "let __nipOclifLibDir; const __nipOclifLib = () => (__nipOclifLibDir ??= require('node:path').join(require('node:path').dirname(require.resolve('@oclif/core/package.json')), 'lib'));",
].join(' ')

const packages = path.resolve(cli, '..')
const entryPoints = { commands: path.join(cli, 'dist', 'commandIndex.js'), main: path.join(cli, 'dist', 'main.js'), argv: path.join(cli, 'dist', 'argv.js'), core: path.join(packages, 'core', 'dist', 'index.js') }
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
  banner: { js: banner },
  plugins: [thirdPartyExternal, oclifPaths],
})
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'))
console.log(`CLI bundle: ${outputs.length} files in ${path.relative(process.cwd(), outdir)}`)
