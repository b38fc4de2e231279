import { strict as assert } from 'node:assert'
import { NipError } from '@nip/core'
import { parseDependencies } from '../src/dependencies.js'
import { parseDescription } from '../src/description.js'

describe('parseDependencies', () => {
  it('parses constraints, comments, missing operators and use flags', () => {
    const text = [
      '# build with the system compiler',
      'GCC >= 3.0.0, < 4.0.0, != 3.1.0',
      'Qt >= 3.3.8, < 4.0 [qt]',
      'Glibc 2.3.6   # no operator means >=',
      'Zlib',
      '',
      '   ',
    ].join('\n')
    assert.deepEqual(parseDependencies(text), {
      dependencies: [
        { name: 'GCC', constraint: '>= 3.0.0, < 4.0.0, != 3.1.0', raw: 'GCC >= 3.0.0, < 4.0.0, != 3.1.0' },
        { name: 'Qt', constraint: '>= 3.3.8, < 4.0', raw: 'Qt >= 3.3.8, < 4.0 [qt]' },
        { name: 'Glibc', constraint: '>= 2.3.6', raw: 'Glibc 2.3.6' },
        { name: 'Zlib', raw: 'Zlib' },
      ],
      warnings: [],
    })
  })

  it('keeps alternatives in order in anyOf', () => {
    const { dependencies } = parseDependencies('Mesa >= 7.0 | Nvidia >= 100.14, < 200 | Xorg\n')
    assert.deepEqual(dependencies, [
      {
        name: 'Mesa',
        constraint: '>= 7.0',
        raw: 'Mesa >= 7.0 | Nvidia >= 100.14, < 200 | Xorg',
        anyOf: [
          { name: 'Mesa', constraint: '>= 7.0', raw: 'Mesa >= 7.0' },
          { name: 'Nvidia', constraint: '>= 100.14, < 200', raw: 'Nvidia >= 100.14, < 200' },
          { name: 'Xorg', raw: 'Xorg' },
        ],
      },
    ])
  })

  it('reports prefixed module names as warnings, not dependencies', () => {
    const r = parseDependencies('CPAN:XML::Parser\nPerl >= 5.8\nPython:lxml >= 2 | LibXML2\n')
    assert.deepEqual(
      r.dependencies.map((d) => [d.name, d.constraint, d.anyOf?.length]),
      [
        ['Perl', '>= 5.8', undefined],
        ['LibXML2', undefined, undefined],
      ],
    )
    assert.deepEqual(r.warnings, [
      'Resources/Dependencies:1: "CPAN:XML::Parser" is not a program (a module of another package manager); skipped',
      'Resources/Dependencies:3: "Python:lxml >= 2" is not a program (a module of another package manager); skipped',
    ])
  })

  it('refuses malformed lines with ERR_NIP_BAD_PACKAGE naming the line', () => {
    for (const [text, line] of [
      ['Zlib\nGCC >> 3', 2],
      ['GCC >=', 1],
      ['../Evil >= 1', 1],
      ['A | | B', 1],
    ] as const) {
      assert.throws(
        () => parseDependencies(text),
        (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_BAD_PACKAGE' && e.data.line === line && e.hint !== undefined,
        text,
      )
    }
  })
})

describe('parseDescription', () => {
  it('reads tagged fields that span lines', () => {
    const d = parseDescription(
      '[Name] Hello\n[Summary] Prints a greeting.\n[Description] Hello reads its greeting\nfrom HelloData.\n\n[License] MIT\n[Homepage] https://example.org/hello\n',
    )
    assert.deepEqual(d, {
      name: 'Hello',
      summary: 'Prints a greeting.',
      description: 'Hello reads its greeting\nfrom HelloData.',
      license: 'MIT',
      homepage: 'https://example.org/hello',
      fields: {
        name: 'Hello',
        summary: 'Prints a greeting.',
        description: 'Hello reads its greeting\nfrom HelloData.',
        license: 'MIT',
        homepage: 'https://example.org/hello',
      },
    })
  })
  it('ignores text before the first tag and keeps unknown tags', () => {
    assert.deepEqual(parseDescription('junk\n[summary]  x \n[Maintainer] me'), {
      summary: 'x',
      fields: { summary: 'x', maintainer: 'me' },
    })
  })
})
