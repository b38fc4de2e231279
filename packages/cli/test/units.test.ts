/** Unit tests of the CLI's own pieces: root choice, failure mapping, envelopes, reporter, rendering. */
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { Errors } from '@oclif/core'
import { NipError } from '@nip/core'
import { resolveRoot, onPath } from '../src/root.js'
import { toFailure } from '../src/failure.js'
import { failureEnvelope, jsonRequested, successEnvelope } from '../src/envelope.js'
import { answerOf, CliReporter, type ReporterMode } from '../src/reporter.js'
import { createStyle, colorWanted } from '../src/render/style.js'
import { formatBytes, formatTable } from '../src/render/format.js'
import { renderError } from '../src/render/error.js'
import { renderProgressBar } from '../src/render/events.js'

describe('resolveRoot', () => {
  it('prefers the flag, then / for uid 0, then the per-user XDG root', () => {
    assert.deepEqual(resolveRoot({ flag: '/srv/r/', env: {}, uid: 1000 }), { root: '/srv/r', perUserDefault: false })
    assert.deepEqual(resolveRoot({ env: { HOME: '/home/u' }, uid: 0 }), { root: '/', perUserDefault: false })
    assert.deepEqual(resolveRoot({ env: { HOME: '/home/u' }, uid: 1000 }), { root: '/home/u/.local/share/nip/root', perUserDefault: true })
    assert.deepEqual(resolveRoot({ env: { HOME: '/home/u', XDG_DATA_HOME: '/data' }, uid: 1000 }), { root: '/data/nip/root', perUserDefault: true })
    // A relative XDG_DATA_HOME is invalid by the XDG spec and ignored.
    assert.equal(resolveRoot({ env: { HOME: '/home/u', XDG_DATA_HOME: 'rel' }, uid: 1000 }).root, '/home/u/.local/share/nip/root')
  })
  it('onPath matches whole PATH entries', () => {
    assert.equal(onPath('/r/System/Links/Executables', '/usr/bin:/r/System/Links/Executables/'), true)
    assert.equal(onPath('/r/System/Links/Executables', '/usr/bin:/r/System/Links'), false)
    assert.equal(onPath('/x', undefined), false)
  })
})

describe('failures and envelopes', () => {
  it('keeps a NipError\'s code, hint, data and exit code', () => {
    const f = toFailure(new NipError('ERR_NIP_LOCKED', 'busy', { hint: 'wait', data: { pid: 7 } }))
    assert.deepEqual({ ...f, stack: undefined }, { code: 'ERR_NIP_LOCKED', message: 'busy', hint: 'wait', data: { pid: 7 }, exitCode: 75, stack: undefined })
    assert.deepEqual(failureEnvelope('install', f), { ok: false, command: 'install', error: { code: 'ERR_NIP_LOCKED', message: 'busy', hint: 'wait', data: { pid: 7 } }, exitCode: 75 })
  })
  it('maps oclif errors to ERR_NIP_USAGE (64) and anything else to ERR_NIP_INTERNAL (70)', () => {
    const usage = toFailure(new Errors.CLIError('Missing 1 required arg:\nname\nSee more help with --help'), { command: 'switch' })
    assert.equal(usage.code, 'ERR_NIP_USAGE')
    assert.equal(usage.exitCode, 64)
    assert.equal(usage.message, 'Missing 1 required arg: name')
    assert.equal(usage.hint, 'Run "nip switch --help" for usage.')
    const internal = toFailure(new TypeError('x is undefined'))
    assert.equal(internal.code, 'ERR_NIP_INTERNAL')
    assert.equal(internal.exitCode, 70)
    assert.equal(internal.message, 'Internal error: x is undefined')
  })
  it('prints the stack only in debug mode', () => {
    const f = toFailure(new Error('boom'))
    const plain = renderError(f, createStyle(false), { debug: false })
    assert.equal(plain, `error[ERR_NIP_INTERNAL]: Internal error: boom\nhint: ${f.hint}\n`)
    assert.match(renderError(f, createStyle(false), { debug: true }), /\n {4}at /)
  })
  it('detects --json only before --', () => {
    assert.equal(jsonRequested(['list', '--json']), true)
    assert.equal(jsonRequested(['install', '--', '--json']), false)
    assert.deepEqual(successEnvelope('list', []), { ok: true, command: 'list', result: [] })
  })
})

describe('CliReporter', () => {
  function capture(mode: ReporterMode) {
    const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough
    let out = ''
    stream.on('data', (c: Buffer) => (out += c.toString()))
    const reporter = new CliReporter({ mode, style: createStyle(false), interactive: false, stream })
    return { reporter, text: () => out }
  }
  const events = [
    { type: 'phase', phase: 'fetch', message: 'Fetching 1 package' },
    { type: 'progress', id: 'a', label: 'hello', done: 512, total: 1024, unit: 'bytes' },
    { type: 'progress', id: 'a', label: 'hello', done: 1024, total: 1024, unit: 'bytes' },
    { type: 'program', action: 'grafted', name: 'Hello', version: '1.0', source: 'gobo' },
    { type: 'warning', code: 'W_X', message: 'careful' },
  ] as const

  it('json mode writes each event as one JSON line', () => {
    const { reporter, text } = capture('json')
    for (const e of events) reporter.emit(e)
    assert.deepEqual(text().trimEnd().split('\n').map((l) => JSON.parse(l)), events)
  })
  it('plain mode writes lines and only finished progress', () => {
    const { reporter, text } = capture('plain')
    for (const e of events) reporter.emit(e)
    assert.equal(text(), ':: Fetching 1 package\nhello: 1.0 KiB done\n+ grafted Hello 1.0 (gobo)\nwarning[W_X]: careful\n')
  })
  it('tty mode redraws the bar in place with \\r and ends it with a newline', () => {
    const { reporter, text } = capture('tty')
    for (const e of events) reporter.emit(e)
    const bar1 = renderProgressBar(events[1], 80, createStyle(false))
    const bar2 = renderProgressBar(events[2], 80, createStyle(false))
    assert.equal(text(), `:: Fetching 1 package\n\r${bar1}\x1b[K\r${bar2}\x1b[K\n+ grafted Hello 1.0 (gobo)\nwarning[W_X]: careful\n`)
    assert.match(bar1, /^hello \[#+-+\]  50% 512 B\/1\.0 KiB$/)
  })
  it('quiet mode writes nothing; with --yes questions take their default unasked', async () => {
    const { reporter, text } = capture('quiet')
    for (const e of events) reporter.emit(e)
    assert.equal(text(), '')
    const yes = new CliReporter({ mode: 'quiet', style: createStyle(false), interactive: false, assumeYes: true, stream: new PassThrough() as unknown as NodeJS.WriteStream })
    assert.equal(await yes.confirm({ id: 'q', message: 'Go?', default: false }), false)
    assert.equal(await yes.confirm({ id: 'q', message: 'Go?', default: true }), true)
  })
  it('without a terminal the answer is one line of input: yes, an empty line (the default), anything else or end of input is no', async () => {
    const ask = async (typed: string | null, fallback = true): Promise<{ answer: boolean; shown: string }> => {
      const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough
      let shown = ''
      stream.on('data', (c: Buffer) => (shown += c.toString()))
      const input = new PassThrough()
      const reporter = new CliReporter({ mode: 'plain', style: createStyle(false), interactive: false, stream, input: input as unknown as NodeJS.ReadStream })
      const answer = reporter.confirm({ id: 'q', message: 'Remove a 1.0?', default: fallback, removing: [{ name: 'a', version: '1.0' }] })
      if (typed === null) input.end()
      else input.write(typed)
      return { answer: await answer, shown }
    }
    assert.deepEqual(await ask('y\n'), { answer: true, shown: 'Remove:\n  - a 1.0\n\nRemove a 1.0? [Y/n] y\n' })
    assert.equal((await ask('YES\n')).answer, true)
    assert.equal((await ask('\n')).answer, true)
    assert.equal((await ask('\n', false)).answer, false)
    assert.equal((await ask('maybe\n')).answer, false)
    assert.equal((await ask('n\n')).answer, false)
    assert.equal((await ask(null)).answer, false)
    assert.equal(answerOf(null, true), false)
  })
})

describe('rendering helpers', () => {
  it('colour follows --no-color, NO_COLOR and the TTY', () => {
    assert.equal(colorWanted({ noColorFlag: false, isTTY: true, env: {} }), true)
    assert.equal(colorWanted({ noColorFlag: true, isTTY: true, env: {} }), false)
    assert.equal(colorWanted({ noColorFlag: false, isTTY: true, env: { NO_COLOR: '1' } }), false)
    assert.equal(colorWanted({ noColorFlag: false, isTTY: true, env: { NO_COLOR: '' } }), true)
    assert.equal(colorWanted({ noColorFlag: false, isTTY: false, env: {} }), false)
    assert.equal(createStyle(true).red('x'), '\x1b[31mx\x1b[39m')
  })
  it('formats sizes and tables exactly', () => {
    assert.equal(formatBytes(0), '0 B')
    assert.equal(formatBytes(1023), '1023 B')
    assert.equal(formatBytes(1536), '1.5 KiB')
    assert.equal(formatBytes(64 * 1024 ** 3), '64.0 GiB')
    assert.equal(formatTable([['a', 'bb', 'c'], ['ccc', 'd', '']], { header: ['H', 'I', 'J'] }), 'H    I   J\na    bb  c\nccc  d')
  })
})
