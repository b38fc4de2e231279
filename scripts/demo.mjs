#!/usr/bin/env node
/**
 * The nip demo (run after `npm run build`; `npm run demo` does both):
 *  1. packs every program under demo/<Name>/<Version>/ as a real GoboLinux binary package,
 *     demo-repo/<Name>--<Version>--noarch.tar.gz, and writes the repository's SHA256SUMS;
 *  2. writes demo-root/etc/nip/nip.conf pointing the gobo source at demo-repo;
 *  3. runs `nip install hello --yes --root demo-root` (Hello 2.0 and its dependency HelloData);
 *  4. runs demo-root/System/Links/Executables/hello and shows what it says.
 * demo-root and demo-repo are wiped first, so the demo can be run again and again.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readdir, rm, stat, writeFile, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildTar } from '@nip/testing'

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const demoDir = path.join(top, 'demo')
const repoDir = path.join(top, 'demo-repo')
const rootDir = path.join(top, 'demo-root')
const cli = path.join(top, 'packages', 'cli', 'bin', 'run.js')

/** Tar entries of one program version, `<Name>/<Version>/...`, in sorted order. */
async function programEntries(name, version) {
  const entries = [
    { path: `${name}/`, type: 'dir', mode: 0o755 },
    { path: `${name}/${version}/`, type: 'dir', mode: 0o755 },
  ]
  async function walk(rel) {
    const dir = path.join(demoDir, name, version, rel)
    for (const child of (await readdir(dir)).sort()) {
      const childRel = rel ? `${rel}/${child}` : child
      const st = await stat(path.join(dir, child))
      const member = `${name}/${version}/${childRel}`
      if (st.isDirectory()) {
        entries.push({ path: `${member}/`, type: 'dir', mode: 0o755 })
        await walk(childRel)
      } else {
        // Programs under bin/ are executable even when a checkout lost the mode bit.
        const executable = childRel.startsWith('bin/') || (st.mode & 0o111) !== 0
        entries.push({ path: member, content: await readFile(path.join(dir, child)), mode: executable ? 0o755 : 0o644 })
      }
    }
  }
  await walk('')
  return entries
}

async function buildRepository() {
  await mkdir(repoDir, { recursive: true })
  const sums = []
  for (const name of (await readdir(demoDir)).sort()) {
    for (const version of (await readdir(path.join(demoDir, name))).sort()) {
      const file = `${name}--${version}--noarch.tar.gz`
      const data = await buildTar(await programEntries(name, version), { compression: 'gzip' })
      await writeFile(path.join(repoDir, file), data)
      sums.push(`${createHash('sha256').update(data).digest('hex')}  ${file}\n`)
      console.log(`  packed ${file} (${data.length} bytes)`)
    }
  }
  await writeFile(path.join(repoDir, 'SHA256SUMS'), sums.join(''))
}

function run(command, args) {
  const r = spawnSync(command, args, { stdio: 'inherit', cwd: top })
  if (r.error) throw r.error
  return r.status ?? 1
}

async function main() {
  if (!(await stat(cli).catch(() => null))) {
    console.error(`${path.relative(top, cli)} is missing: run \`npm run build\` first (or \`npm run demo\`).`)
    process.exit(1)
  }
  await rm(rootDir, { recursive: true, force: true })
  await rm(repoDir, { recursive: true, force: true })

  console.log('Building the demo repository demo-repo/ from demo/:')
  await buildRepository()

  await mkdir(path.join(rootDir, 'etc', 'nip'), { recursive: true })
  await writeFile(
    path.join(rootDir, 'etc', 'nip', 'nip.conf'),
    `# Written by scripts/demo.mjs\n[gobo]\nrepositories = [${JSON.stringify(repoDir)}]\n`,
  )

  // `--root` follows the command: oclif reads a command's flags after its name.
  const shown = (...args) => ['node', path.relative(top, cli), ...args, '--root', path.relative(top, rootDir)].join(' ')
  console.log(`\n$ ${shown('install', 'hello', '--yes')}`)
  const status = run(process.execPath, [cli, 'install', 'hello', '--yes', '--root', rootDir])
  if (status !== 0) {
    console.error(`\nnip install exited with status ${status}.`)
    process.exit(status)
  }

  const hello = path.join(rootDir, 'System', 'Links', 'Executables', 'hello')
  console.log(`\n$ ${path.relative(top, hello)}`)
  const said = spawnSync(hello, [], { encoding: 'utf8', cwd: top })
  if (said.error || said.status !== 0) {
    console.error(said.error?.message ?? said.stderr)
    process.exit(1)
  }
  process.stdout.write(said.stdout)

  console.log('\nTry next:')
  console.log(`  ${shown('install', 'Hello@1.0', '--no-switch', '--yes')}`)
  console.log(`  ${shown('list')}`)
  console.log(`  ${shown('switch', 'Hello', '1.0')}`)
  console.log(`and run ${path.relative(top, hello)} again.`)
}

main().catch((e) => {
  console.error(e?.stack ?? String(e))
  process.exit(1)
})
