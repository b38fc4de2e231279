/**
 * The one question before a change, answered through a pseudo-terminal (util-linux `script`,
 * @inquirer/prompts' confirm) and through a pipe: yes, no, end of input, Ctrl-C. After each
 * the lock is free (a second writer runs); after every answer but yes nothing changed: not the
 * programs, the farm, the database's view (list, generations), nor a directory beside the root.
 * Input is written only once the question is on screen, so no answer races the plan.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { assertUnchanged, buildTar, snapshotDir, type DirSnapshot } from '@nip/testing'
import { BIN, sandbox, type Sandbox } from './helpers.js'

type Answer = { text: string } | 'eof' | 'ctrl-c'

interface Asked {
  status: number | null
  output: string
}

/** Run nip, wait for `marker` in its output, then answer. */
function askAndAnswer(argv: string[], opts: { tty: boolean; env: NodeJS.ProcessEnv; cwd: string; marker: RegExp; answer: Answer }): Promise<Asked> {
  const quoted = [process.execPath, BIN, ...argv].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  const child = opts.tty ? spawn('script', ['-qec', quoted, '/dev/null'], { env: opts.env, cwd: opts.cwd }) : spawn(process.execPath, [BIN, ...argv], { env: opts.env, cwd: opts.cwd })
  let output = ''
  let answered = false
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      output += d.toString()
      if (answered || !opts.marker.test(output)) return
      answered = true
      const a = opts.answer
      if (a === 'eof') {
        // Through the terminal: Ctrl-D; through a pipe: the pipe closes.
        if (opts.tty) child.stdin.write('\x04')
        else child.stdin.end()
      } else if (a === 'ctrl-c') {
        // The terminal turns Ctrl-C into a key (raw mode); a pipe has none: the signal.
        if (opts.tty) child.stdin.write('\x03')
        else child.kill('SIGINT')
      } else child.stdin.write(opts.tty ? `${a.text}\r` : `${a.text}\n`)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, output }))
  })
}

async function goboPackage(name: string, version: string, files: Record<string, string>): Promise<Buffer> {
  const dirs = new Set<string>([`${name}/`, `${name}/${version}/`])
  const entries: { path: string; content?: string; mode?: number }[] = []
  for (const [p, content] of Object.entries(files)) {
    const parts = p.split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(`${name}/${version}/${parts.slice(0, i).join('/')}/`)
    entries.push({ path: `${name}/${version}/${p}`, content, mode: p.startsWith('bin/') ? 0o755 : 0o644 })
  }
  return buildTar([...[...dirs].sort().map((d) => ({ path: d, type: 'dir' as const })), ...entries], { compression: 'gzip' })
}

describe('the one question: through a terminal and through a pipe', function () {
  this.timeout(120_000)
  let sb: Sandbox
  let beside: string
  const hasScript = spawnSync('script', ['--version']).status === 0
  const env = (): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) if (!/^(NIP_|NODE_OPTIONS$|XDG_)/.test(k)) e[k] = v
    return { ...e, HOME: sb.home, NO_COLOR: '1' }
  }
  /** The programs of the current generation (a removed version stays on disk until gc). */
  const grafted = () => (sb.json(sb.nip(['list', '--root', sb.root, '--json'])).result as { name: string }[]).map((p) => p.name).sort()
  /** What the user sees of the root, and the database's view of it. */
  const state = () => {
    const list = sb.nip(['list', '--all', '--root', sb.root, '--json']).stdout
    const gens = sb.nip(['generations', '--root', sb.root, '--json']).stdout
    return { list, gens, programs: snapshotDir(path.join(sb.root, 'Programs')), links: snapshotDir(path.join(sb.root, 'System')) }
  }
  const assertNothingChanged = (before: ReturnType<typeof state>, outside: DirSnapshot, label: string) => {
    const after = state()
    assert.equal(after.list, before.list, `${label}: list`)
    assert.equal(after.gens, before.gens, `${label}: generations`)
    assertUnchanged(path.join(sb.root, 'Programs'), before.programs, `${label} (Programs)`)
    assertUnchanged(path.join(sb.root, 'System'), before.links, `${label} (System)`)
    assertUnchanged(beside, outside, label)
  }
  /** A second writer runs: the lock was released. */
  const lockFree = (label: string) => {
    const r = sb.nip(['pin', 'HelloData', '--root', sb.root, '--json'])
    assert.equal(r.status, 0, `${label}: a second writer could not run: ${r.stdout}${r.stderr}`)
    assert.equal(sb.nip(['unpin', 'HelloData', '--root', sb.root, '--json']).status, 0)
  }

  before(async () => {
    sb = sandbox()
    beside = path.join(sb.home, 'beside')
    fs.mkdirSync(beside)
    fs.writeFileSync(path.join(beside, 'keep'), 'keep\n')
    const repo = path.join(sb.home, 'repo')
    fs.mkdirSync(repo)
    fs.writeFileSync(path.join(repo, 'Hello--1.0--noarch.tar.gz'), await goboPackage('Hello', '1.0', { 'bin/hello': '#!/bin/sh\necho hello\n', 'Resources/Dependencies': 'HelloData >= 1.0\n' }))
    fs.writeFileSync(path.join(repo, 'HelloData--1.0--noarch.tar.gz'), await goboPackage('HelloData', '1.0', { 'share/hello/data': 'data\n', 'Resources/Dependencies': '' }))
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), `[gobo]\nrepositories = [${JSON.stringify(repo)}]\n`)
    // HelloData is grafted first, so the root and its database exist and a writer can pin it.
    const r = sb.nip(['install', 'HelloData', '--root', sb.root, '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
  })
  after(() => sb?.cleanup())

  const cases: { answer: Answer; label: string; status: number }[] = [
    { answer: { text: 'n' }, label: 'no', status: 1 },
    { answer: 'eof', label: 'end of input', status: 1 },
    { answer: 'ctrl-c', label: 'Ctrl-C', status: 130 },
  ]
  for (const tty of [true, false]) {
    const via = tty ? 'terminal' : 'pipe'
    for (const c of cases) {
      it(`${via}: ${c.label} changes nothing, says so plainly, exits ${c.status} and frees the lock`, async function () {
        if (tty && !hasScript) this.skip() // util-linux `script` is needed for a pseudo-terminal
        const before = state()
        const outside = snapshotDir(beside)
        const r = await askAndAnswer(['install', 'hello', '--root', sb.root], { tty, env: env(), cwd: sb.home, marker: tty ? /Graft Hello 1\.0\?.*\(Y\/n\)/ : /Graft Hello 1\.0\? \[Y\/n\]/, answer: c.answer })
        assert.equal(r.status, c.status, r.output)
        // The plan was shown before the question, naming what would be grafted.
        assert.match(r.output, /Hello\s+1\.0\s+gobo\s+requested/)
        assert.match(r.output, /Nothing was changed\./)
        assert.doesNotMatch(r.output, /error\[|--yes/)
        assert.deepEqual(grafted(), ['HelloData'])
        assertNothingChanged(before, outside, `${via} ${c.label}`)
        lockFree(`${via} ${c.label}`)
      })
    }
    it(`${via}: yes grafts, after one question`, async function () {
      if (tty && !hasScript) this.skip() // util-linux `script` is needed for a pseudo-terminal
      const r = await askAndAnswer(['install', 'hello', '--root', sb.root], { tty, env: env(), cwd: sb.home, marker: /Graft Hello 1\.0\?/, answer: { text: 'y' } })
      assert.equal(r.status, 0, r.output)
      // One question (a terminal redraws it as it is typed; a pipe shows it once).
      assert.doesNotMatch(r.output, /Proceed|program\(s\)\?/)
      if (!tty) assert.equal(r.output.match(/Graft /g)?.length, 1, r.output)
      assert.deepEqual(grafted(), ['Hello', 'HelloData'])
      lockFree(`${via} yes`)
      // Back to the start for the next cases.
      assert.equal(sb.nip(['remove', 'Hello', '--root', sb.root, '--json']).status, 0)
    })
  }

  it('a pipe: `echo n | nip install` grafts nothing, `echo y |` does; remove names what it removes', () => {
    const no = sb.nip(['install', 'hello', '--root', sb.root], { ask: true, input: 'n\n' })
    assert.equal(no.status, 1, no.stderr)
    assert.deepEqual(grafted(), ['HelloData'])
    const none = sb.nip(['install', 'hello', '--root', sb.root], { ask: true, input: '' })
    assert.equal(none.status, 1, none.stderr)
    assert.deepEqual(grafted(), ['HelloData'])
    const yes = sb.nip(['install', 'hello', '--root', sb.root], { ask: true, input: 'y\n' })
    assert.equal(yes.status, 0, yes.stderr)
    assert.deepEqual(grafted(), ['Hello', 'HelloData'])
    const rm = sb.nip(['remove', 'Hello', '--root', sb.root], { ask: true, input: 'maybe\n' })
    assert.equal(rm.status, 1, rm.stderr)
    assert.match(rm.stderr, /Remove:\n {2}- Hello 1\.0\n\nRemove Hello 1\.0\? \[Y\/n\] maybe\nNothing was changed\.\n$/)
    assert.deepEqual(grafted(), ['Hello', 'HelloData'])
  })

  it('rollback and autoremove ask too, naming what they change; no leaves the generation as it was', () => {
    const gens = () => sb.nip(['generations', '--root', sb.root, '--json']).stdout
    const before = gens()
    const rb = sb.nip(['rollback', '--root', sb.root], { ask: true, input: 'n\n' })
    assert.equal(rb.status, 1, rb.stderr)
    assert.match(rb.stderr, /Changes:\n(.*\n)*\nRoll back to generation \d+\? \[Y\/n\] n\nNothing was changed\.\n$/)
    assert.equal(gens(), before)
    // Hello is explicit and needs HelloData: nothing for autoremove, and no question.
    const none = sb.nip(['autoremove', '--root', sb.root], { ask: true, input: '' })
    assert.equal(none.status, 0, none.stderr)
    assert.match(none.stdout, /No dependency is unneeded\./)
  })

  it('--json without --yes prints the question as a JSON line and reads the answer; end of input is no', () => {
    const r = sb.nip(['remove', 'Hello', '--root', sb.root, '--json'], { ask: true, input: '' })
    assert.equal(r.status, 1)
    const q = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((e) => e.type === 'question')
    assert.deepEqual({ id: q.id, message: q.message, removing: q.removing }, { id: 'remove', message: 'Remove Hello 1.0?', removing: [{ name: 'Hello', version: '1.0' }] })
    assert.equal(sb.json(r).error.code, 'ERR_NIP_ABORTED')
    assert.deepEqual(grafted(), ['Hello', 'HelloData'])
  })
})
