/**
 * Dependency specification strings (PMS "Dependency specification format") and their
 * USE-conditional reduction, with the results and errors of Portage's `use_reduce`.
 *
 * The result is a nested list: a nested list is an all-of group; the string `"||"` is followed by
 * a list of its choices (with `opconvert`, `"||"` is instead the first element of its list).
 * Inactive conditionals are dropped and redundant parentheses collapsed (`|| ( A )` → `A`,
 * `|| ( || ( A B ) )` → `|| ( A B )`, `( ( A ) )` → `A`). The shapes match Portage's exactly
 * (proven on Portage's own test table), because callers and tests compare them structurally.
 *
 * Malformed input throws `DepStringError` (missing whitespace, unbalanced parentheses, empty
 * groups, `->` outside SRC_URI or before EAPI 2, invalid conditional flags, invalid atoms).
 */
import { parseAtom, evaluateUseDeps, formatUseDeps } from './atom.js'
import { isValidUseFlag } from './cpv.js'
import { eapiRules } from './eapi.js'

export type DepNode = string | DepNode[]

export class DepStringError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DepStringError'
  }
}

export interface UseReduceOptions {
  use?: Iterable<string>
  /** Flags forced off (a `!flag?` on them is active). */
  mask?: Iterable<string>
  /** Every conditional is active. */
  matchAll?: boolean
  /** Negated conditionals on these flags are inactive. */
  excludeAll?: Iterable<string>
  isSrcUri?: boolean
  eapi?: string
  opconvert?: boolean
  flat?: boolean
  /** Decides whether a flag may appear in a conditional (IUSE); otherwise flag syntax is checked. */
  isValidFlag?: (flag: string) => boolean
  /** 'atom': every plain token must be a valid atom; conditional USE deps are evaluated. */
  tokenClass?: 'atom'
  /** Keep only what is conditional on these flags. */
  subset?: Iterable<string>
}

export function useReduce(depstr: string, opts: UseReduceOptions = {}): DepNode[] {
  if (opts.opconvert === true && opts.flat === true) {
    throw new DepStringError("'opconvert' and 'flat' are mutually exclusive")
  }
  const uselist = new Set(opts.use ?? [])
  const masklist = new Set(opts.mask ?? [])
  const excludeall = new Set(opts.excludeAll ?? [])
  const matchall = opts.matchAll === true
  const opconvert = opts.opconvert === true
  const flat = opts.flat === true
  const isSrcUri = opts.isSrcUri === true
  const rules = eapiRules(opts.eapi)

  const isActive = (conditional: string): boolean => {
    const negated = conditional.startsWith('!')
    const flag = negated ? conditional.slice(1, -1) : conditional.slice(0, -1)
    if (opts.isValidFlag !== undefined) {
      if (!opts.isValidFlag(flag)) {
        throw new DepStringError(`USE flag '${flag}' referenced in conditional '${conditional}' is not in IUSE`)
      }
    } else if (!isValidUseFlag(flag)) {
      throw new DepStringError(`invalid use flag '${flag}' in conditional '${conditional}'`)
    }
    if (negated && excludeall.has(flag)) return false
    if (masklist.has(flag)) return negated
    if (matchall) return true
    return uselist.has(flag) !== negated
  }

  if (opts.subset !== undefined) {
    const subset = new Set(opts.subset)
    const selectSubset = (struct: DepNode[], disjunction: boolean, selected: boolean): DepNode[] => {
      const result: DepNode[] = []
      const stack = [...struct].reverse()
      while (stack.length > 0) {
        const token = stack.pop()!
        if (Array.isArray(token)) {
          const children = selectSubset(token, false, selected)
          if (disjunction) {
            if (children.length > 0) result.push(children)
          } else result.push(...children)
        } else if (token.endsWith('?')) {
          const group = stack.pop() as DepNode[]
          if (isActive(token)) {
            const children = selectSubset(group, false, selected || subset.has(token.slice(0, -1)))
            if (disjunction) {
              if (children.length > 0) result.push(children)
            } else result.push(...children)
          }
        } else if (token === '||') {
          const children = selectSubset(stack.pop() as DepNode[], true, selected)
          if (children.length > 0) {
            if (disjunction) result.push(...children)
            else result.push(token, children)
          }
        } else if (selected) {
          result.push(token)
        }
      }
      return result
    }
    depstr = encloseParens(selectSubset(parenReduce(depstr), false, false))
  }

  const tokens = depstr.split(/\s+/).filter((t) => t !== '')
  let level = 0
  const stack: DepNode[][] = [[]]
  let needBracket = false
  let needSimpleToken = false
  const top = (k: number): DepNode | undefined => stack[k][stack[k].length - 1]
  const endsInAnyOf = (k: number): boolean => k >= 0 && stack[k].length > 0 && top(k) === '||'
  const lastAnyOfLevel = (k: number): number => {
    for (; k >= 0; k--) {
      const t = top(k)
      if (stack[k].length > 0 && typeof t === 'string') {
        if (t === '||') return k
        if (!t.endsWith('?')) return -1
      }
    }
    return -1
  }

  for (let pos = 0; pos < tokens.length; pos++) {
    const token = tokens[pos]
    if (token === '(') {
      if (needSimpleToken) throw new DepStringError(`expected: file name, got: '${token}', token ${pos + 1}`)
      if (tokens[pos + 1] === ')') throw new DepStringError(`expected: dependency string, got: ')', token ${pos + 1}`)
      needBracket = false
      stack.push([])
      level++
    } else if (token === ')') {
      if (needBracket) throw new DepStringError(`expected: '(', got: '${token}', token ${pos + 1}`)
      if (needSimpleToken) throw new DepStringError(`expected: file name, got: '${token}', token ${pos + 1}`)
      if (level === 0) throw new DepStringError(`no matching '(' for ')', token ${pos + 1}`)
      level--
      const l = stack.pop()!
      const isSingle = l.length === 1 || (opconvert && l.length > 0 && l[0] === '||') || (!opconvert && l.length === 2 && l[0] === '||')
      let ignore = false
      if (flat) {
        const t = top(level)
        if (typeof t === 'string' && t.endsWith('?')) {
          stack[level].pop()
          if (isActive(t)) stack[level].push(...l)
        } else stack[level].push(...l)
        continue
      }
      const t = top(level)
      if (stack[level].length > 0 && typeof t === 'string') {
        if (t === '||' && l.length === 0) {
          if (!rules.emptyGroupsAlwaysTrue) l.push('__const__/empty-any-of')
          stack[level].pop()
        } else if (t.endsWith('?')) {
          if (!isActive(t)) ignore = true
          stack[level].pop()
        }
      }
      const specialAppend = (): void => {
        if (isSingle) {
          if (l[0] === '||' && endsInAnyOf(level - 1)) {
            if (opconvert) stack[level].push(...l.slice(1))
            else stack[level].push(...(l[1] as DepNode[]))
          } else if (l.length === 1 && Array.isArray(l[0])) {
            const inner = l[0]
            if (lastAnyOfLevel(level - 1) === -1) {
              if (opconvert && inner.length > 0 && inner[0] === '||') stack[level].push(inner)
              else stack[level].push(...inner)
            } else if (opconvert && inner.length > 0 && inner[0] === '||') {
              stack[level].push(...inner.slice(1))
            } else stack[level].push(inner)
          } else stack[level].push(...l)
        } else if (opconvert && stack[level].length > 0 && top(level) === '||') {
          stack[level][stack[level].length - 1] = ['||', ...l]
        } else stack[level].push(l)
      }
      if (l.length > 0 && !ignore) {
        if (!endsInAnyOf(level - 1) && !endsInAnyOf(level)) {
          stack[level].push(...l)
        } else if (stack[level].length === 0) {
          specialAppend()
        } else if (isSingle && endsInAnyOf(level)) {
          stack[level].pop()
          specialAppend()
        } else if (endsInAnyOf(level) && endsInAnyOf(level - 1)) {
          stack[level].pop()
          stack[level].push(...l)
        } else if (opconvert && endsInAnyOf(level)) {
          stack[level].pop()
          stack[level].push(['||', ...l])
        } else specialAppend()
      }
    } else if (token === '||') {
      if (isSrcUri) throw new DepStringError(`any-of dependencies are not allowed in SRC_URI: token ${pos + 1}`)
      if (needBracket) throw new DepStringError(`expected: '(', got: '${token}', token ${pos + 1}`)
      needBracket = true
      stack[level].push(token)
    } else if (token === '->') {
      if (needSimpleToken) throw new DepStringError(`expected: file name, got: '${token}', token ${pos + 1}`)
      if (!isSrcUri) throw new DepStringError(`SRC_URI arrow are only allowed in SRC_URI: token ${pos + 1}`)
      if (!rules.srcUriArrows) throw new DepStringError(`SRC_URI arrow not allowed in EAPI ${opts.eapi}: token ${pos + 1}`)
      needSimpleToken = true
      stack[level].push(token)
    } else {
      if (needBracket) throw new DepStringError(`expected: '(', got: '${token}', token ${pos + 1}`)
      if (needSimpleToken && token.includes('/')) throw new DepStringError(`expected: file name, got: '${token}', token ${pos + 1}`)
      let out = token
      if (token.endsWith('?')) {
        needBracket = true
      } else {
        needSimpleToken = false
        if (isSrcUri) {
          if (!rules.selectiveSrcUriRestriction && (token.startsWith('fetch+') || token.startsWith('mirror+'))) {
            throw new DepStringError(`Selective fetch/mirror restriction not allowed in EAPI ${opts.eapi}: token ${pos + 1}`)
          }
        } else if (opts.tokenClass === 'atom') {
          out = checkAtomToken(token, pos, { eapi: opts.eapi, evaluate: matchall ? undefined : uselist, isValidFlag: opts.isValidFlag })
        }
      }
      stack[level].push(out)
    }
  }
  if (level !== 0) throw new DepStringError("Missing ')' at end of string")
  if (needBracket) throw new DepStringError("Missing '(' at end of string")
  if (needSimpleToken) throw new DepStringError('Missing file name at end of string')
  return stack[0]
}

function checkAtomToken(
  token: string,
  pos: number,
  o: { eapi?: string; evaluate?: ReadonlySet<string>; isValidFlag?: (flag: string) => boolean },
): string {
  const atom = parseAtom(token, { allowBlockers: true, eapi: o.eapi, allowRepo: true })
  if (atom === null) {
    for (const x of [')', '(', '||']) {
      if (token.startsWith(x) || token.endsWith(x)) {
        throw new DepStringError(`missing whitespace around '${x}' at '${token}', token ${pos + 1}`)
      }
    }
    throw new DepStringError(`Invalid atom (${token}), token ${pos + 1}`)
  }
  if (atom.useDeps !== undefined && o.isValidFlag !== undefined) {
    for (const d of atom.useDeps) {
      if (d.suffix !== '' && !o.isValidFlag(d.flag)) {
        throw new DepStringError(`Invalid atom (${token}): conditional USE flag '${d.flag}' is not in IUSE, token ${pos + 1}`)
      }
    }
  }
  if (o.evaluate === undefined || atom.useDeps === undefined || !atom.useDeps.some((d) => d.suffix !== '')) return token
  // As Portage's Atom.evaluate_conditionals: the atom up to its slot (remove_slot), the slot part
  // again, then the evaluated USE deps. A `::repo` is not carried over.
  const evaluated = evaluateUseDeps(atom.useDeps, o.evaluate)
  const colon = token.indexOf(':')
  let head = token.slice(0, colon >= 0 ? colon : token.indexOf('['))
  if (atom.slot !== undefined || atom.slotOperator !== undefined) {
    head += `:${atom.slot ?? ''}${atom.subSlot !== undefined ? `/${atom.subSlot}` : ''}${atom.slotOperator ?? ''}`
  }
  return evaluated.length === 0 ? head : head + formatUseDeps(evaluated)
}

/**
 * Portage's `paren_reduce`: parentheses to nested lists, redundant ones removed, conditionals
 * kept (`foo? ( A )` → `['foo?', ['A']]`).
 */
export function parenReduce(depstr: string): DepNode[] {
  const tokens = depstr.split(/\s+/).filter((t) => t !== '')
  let level = 0
  const stack: DepNode[][] = [[]]
  let needBracket = false
  const malformed = (): DepStringError => new DepStringError(`malformed syntax: '${depstr}'`)
  const top = (k: number): DepNode | undefined => stack[k][stack[k].length - 1]
  // Python's `x[-1] == "?"`: the last character of a token, the last element of a list.
  const lastChar = (n: DepNode | undefined): string =>
    typeof n === 'string' ? n.slice(-1) : Array.isArray(n) && n.length > 0 && n[n.length - 1] === '?' ? '?' : ''
  const endsInAnyOf = (k: number): boolean => k >= 0 && stack[k].length > 0 && top(k) === '||'
  const endsInOperator = (k: number): boolean => k >= 0 && stack[k].length > 0 && (top(k) === '||' || lastChar(top(k)) === '?')
  for (const token of tokens) {
    if (token === '(') {
      needBracket = false
      stack.push([])
      level++
    } else if (token === ')') {
      if (needBracket || level === 0) throw malformed()
      level--
      const l = stack.pop()!
      const isSingle = l.length === 1 || (l.length === 2 && (l[0] === '||' || lastChar(l[0]) === '?'))
      const specialAppend = (): void => {
        if (isSingle && (stack[level].length === 0 || lastChar(top(level)) !== '?')) {
          if (l.length === 1 && Array.isArray(l[0])) stack[level].push(...l[0])
          else stack[level].push(...l)
        } else stack[level].push(l)
      }
      if (l.length > 0) {
        if (!endsInAnyOf(level - 1) && !endsInOperator(level)) stack[level].push(...l)
        else if (stack[level].length === 0) specialAppend()
        else if (l.length === 1 && endsInAnyOf(level)) {
          stack[level].pop()
          specialAppend()
        } else if (l.length === 2 && (l[0] === '||' || lastChar(l[0]) === '?') && (top(level) === l[0] || top(level) === '||')) {
          stack[level].pop()
          specialAppend()
        } else specialAppend()
      } else if (stack[level].length > 0 && (top(level) === '||' || lastChar(top(level)) === '?')) {
        stack[level].pop()
      }
    } else if (token === '||') {
      if (needBracket) throw malformed()
      needBracket = true
      stack[level].push(token)
    } else {
      if (needBracket) throw malformed()
      if (token.endsWith('?')) needBracket = true
      stack[level].push(token)
    }
  }
  if (level !== 0 || needBracket) throw malformed()
  return stack[0]
}

/** Portage's `paren_enclose`: nested lists back to a string. */
export function encloseParens(list: DepNode[], opconvert = false): string {
  return list
    .map((x) => {
      if (!Array.isArray(x)) return x
      if (opconvert && x.length > 0 && x[0] === '||') return `|| ( ${encloseParens(x.slice(1))} )`
      return `( ${encloseParens(x)} )`
    })
    .join(' ')
}
