/** A seeded generator of dpkg version strings aimed at the grammar's hard cases. */
import { seeded, type Seeded } from '@nip/testing'

const EPOCHS = ['0', '1', '2', '10', '01', '+1', '-0', '-1', '+0', '2147483647', '2147483648', '99999999999999999999', '', ' 1', '\n1', '\v2', '\t1', '1a', '+', '-', '00']
const PIECES = [
  '0', '1', '2', '9', '10', '01', '001', '00', '123456789012345678901234567890', '99999999999999999999',
  'a', 'b', 'z', 'A', 'Z', 'rc', 'beta', '~', '~~', '~rc1', '+', '+b1', '.', '..', '-', ':', '1:', 'é', 'ÿ', '\u00a0', '€', '😀',
  '\n', '\r', '\v', '\f', ' ', '\t', '_', '%', '!', '=', 'ß', 'Ā',
]
const REVS = ['', '0', '1', '00', '1.1', '1~', '~', '+b1', 'a', '1a', 'ubuntu1', 'é', '\v', '1-2', ':', '_']

export function versionGenerator(seed: number): () => string {
  const r = seeded(seed)
  return () => {
    let v = ''
    if (r.chance(0.3)) v += r.pick(EPOCHS) + ':'
    const start = r.int(10)
    v += start < 7 ? String(r.int(3)) : start < 8 ? r.pick(['a', '~', '.', '+', 'é', '\n', '']) : ''
    for (let k = r.int(5); k > 0; k--) v += r.pick(PIECES)
    if (r.chance(0.35)) v += '-' + r.pick(REVS)
    if (r.chance(0.05)) v = r.pick([' ', '\t', '  ']) + v
    if (r.chance(0.05)) v += r.pick([' ', '\t', '\n', '\v', '\r', '\f', ' \t'])
    return v
  }
}

/** A second version near the first, so that equal and close pairs are common. */
export function nearVersion(r: Seeded, v: string, gen: () => string): string {
  switch (r.int(6)) {
    case 0:
      return v
    case 1:
      return v + r.pick(['~', '0', '.0', '-0', 'a', '+', 'é', '.'])
    case 2:
      return v.replace(/[0-9]+/, (d) => '0' + d)
    case 3:
      return v.replace(/^[^:]*:/, '') // drop the epoch
    default:
      return gen()
  }
}
