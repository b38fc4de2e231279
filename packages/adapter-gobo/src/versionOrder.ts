/**
 * GoboLinux version ordering, as bin/GuessLatest computes it (a heuristic, not a spec):
 *
 * - the revision `-rN[pM]` is split off first and only breaks ties;
 * - the version is split where digits switch to non-digits, except around dots
 *   (`3rc1` → `3` `rc` `1`, `1.0a` → `1.0` `a`); each piece is split on dots and a leading `-`
 *   is dropped from every part; parts that are integers compare as numbers, others as words;
 * - `rc`, `pre`/`pr`, `beta`, `alpha` subtract 0.0001, 0.001, 0.01, 0.1 from the preceding
 *   number and mark the version unstable (so `2.0rc1` < `2.0` and `3.0alpha` < `3.0beta`);
 * - `svn`, `cvs`, `git`, `bzr`, `hg` and anything ending in `-git` sort below every release;
 * - pieces compare as lists (a list that is a prefix of another is smaller: `1.0` < `1.0.0`);
 *   in one position a number sorts below a word, as Python 2 ordered them.
 *
 * Equal versions keep the order they were given in (GuessLatest breaks ties by argument order,
 * the first argument winning).
 */

type Part = number | string
type Weight = { vcs: boolean; minors: Part[][] }

const UNSTABLE: Record<string, number> = { rc: 0.0001, pre: 0.001, pr: 0.001, beta: 0.01, alpha: 0.1 }
const VCS = new Set(['svn', 'cvs', 'git', 'bzr', 'hg'])
const REVISION = /^r([0-9]+)(?:p([0-9]+))?$/

/** The version and the revision as [N, M] ([0, 0] when there is none). */
export function splitRevision(versionWithRevision: string): { version: string; revision: [number, number] } {
  const dash = versionWithRevision.lastIndexOf('-')
  const last = versionWithRevision.slice(dash + 1)
  const m = REVISION.exec(last)
  if (!m || dash < 0) return { version: versionWithRevision, revision: [0, 0] }
  return { version: versionWithRevision.slice(0, dash), revision: [Number(m[1]), m[2] ? Number(m[2]) : 0] }
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9'
}

/** Split where digits switch to non-digits, never next to a dot. */
function breakInSwitches(s: string): string[] {
  const out: string[] = []
  let w = ''
  for (const c of s) {
    const prev = w[w.length - 1]
    if (w && isDigit(prev) !== isDigit(c) && c !== '.' && prev !== '.') {
      out.push(w)
      w = c
    } else {
      w += c
    }
  }
  out.push(w)
  return out
}

function weigh(version: string): Weight & { unstable: boolean } {
  const lower = version.toLowerCase()
  const vcs = VCS.has(lower) || lower.endsWith('-git')
  const minors: Part[][] = []
  let unstable = false
  if (version === '' || version === 'Current') return { vcs: false, minors, unstable }
  for (const piece of breakInSwitches(version)) {
    const parts: Part[] = []
    for (let p of piece.toLowerCase().split('.')) {
      if (p.startsWith('-')) p = p.slice(1)
      if (/^[0-9]+$/.test(p)) {
        parts.push(Number(p))
        continue
      }
      const last = minors[minors.length - 1]
      if (p in UNSTABLE && last && typeof last[last.length - 1] === 'number') {
        unstable = true
        last[last.length - 1] = (last[last.length - 1] as number) - UNSTABLE[p]
      } else {
        parts.push(p)
      }
    }
    if (parts.length > 0) minors.push(parts)
  }
  return { vcs, minors, unstable }
}

function comparePart(a: Part, b: Part): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'number') return -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}

function compareLists<T>(a: T[], b: T[], cmp: (x: T, y: T) => number): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const c = cmp(a[i], b[i])
    if (c !== 0) return c
  }
  return a.length - b.length
}

/** GuessLatest's order of two versions (each may carry `-rN[pM]`): negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const va = splitRevision(a)
  const vb = splitRevision(b)
  const wa = weigh(va.version)
  const wb = weigh(vb.version)
  if (wa.vcs !== wb.vcs) return wa.vcs ? -1 : 1
  const byWeight = compareLists(wa.minors, wb.minors, (x, y) => compareLists(x, y, comparePart))
  if (byWeight !== 0) return Math.sign(byWeight)
  return Math.sign(compareLists(va.revision, vb.revision, (x, y) => x - y))
}

/** Whether GuessLatest would call the version unstable (it carries rc/pre/pr/beta/alpha). */
export function isUnstableVersion(version: string): boolean {
  return weigh(splitRevision(version).version).unstable
}

/**
 * The version part of a GuessLatest argument: a bare version, or a package/recipe name
 * (`Foo--1.2--x86_64.tar.bz2`, `dir/Foo--1.2`) whose second `--` field is the version.
 */
export function extractVersion(argument: string): string {
  const base = argument.split('/').pop() ?? ''
  const fields = base.split('--')
  return fields.length > 1 ? fields[1] : fields[0]
}

/** GuessLatest's `-l`: the arguments, latest first (equal versions keep their given order). */
export function sortLatestFirst(args: readonly string[]): string[] {
  return args
    .map((arg, i) => ({ arg, i, v: extractVersion(arg) }))
    .sort((x, y) => compareVersions(y.v, x.v) || x.i - y.i)
    .map((x) => x.arg)
}

/** GuessLatest: the latest of the arguments (the first of equal ones), or "" when there are none. */
export function guessLatest(args: readonly string[]): string {
  return sortLatestFirst(args)[0] ?? ''
}
