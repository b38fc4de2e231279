/**
 * REQUIRED_USE (PMS "REQUIRED_USE"), checked with the results of Portage's `check_required_use`:
 * a bare `flag` must be enabled, `!flag` disabled; `|| ( )` any-of, `^^ ( )` exactly-one-of,
 * `?? ( )` at-most-one-of (EAPI 5+), `flag? ( )` conditional. A conditional group inside an
 * operator group that is not enabled is not a member of it. Empty groups are satisfied only
 * before EAPI 7.
 *
 * The result carries the unsatisfied remainder rendered as Portage's `tounicode()` does, so a
 * refusal can name the failing clause; `suggestRequiredUseFix` proposes the smallest change.
 */
import { eapiRules } from './eapi.js'

export class RequiredUseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RequiredUseError'
  }
}

interface Leaf {
  kind: 'leaf'
  token: string
  satisfied: boolean
}
interface Branch {
  kind: 'branch'
  operator?: string
  parent?: Branch
  children: Node[]
  satisfied: boolean
}
type Node = Leaf | Branch

export interface RequiredUseResult {
  satisfied: boolean
  /** The unsatisfied clauses, '' when satisfied (Portage's `tounicode()`). */
  unsatisfied: string
}

const OPERATORS_5 = ['||', '^^', '??']
const OPERATORS_4 = ['||', '^^']

export function checkRequiredUse(
  requiredUse: string,
  use: ReadonlySet<string>,
  inIuse: (flag: string) => boolean,
  eapi?: string,
): RequiredUseResult {
  const rules = eapiRules(eapi)
  const operators = rules.atMostOneOf ? OPERATORS_5 : OPERATORS_4
  const malformed = (): RequiredUseError => new RequiredUseError(`malformed syntax: '${requiredUse}'`)

  const isActive = (token: string): boolean => {
    const negated = token.startsWith('!')
    const flag = negated ? token.slice(1) : token
    if (flag === '' || !inIuse(flag)) {
      if (!rules.atMostOneOf && flag === '?') throw new RequiredUseError(`Operator '??' is not supported with EAPI '${eapi}'`)
      throw new RequiredUseError(`USE flag '${flag}' is not in IUSE`)
    }
    return use.has(flag) !== negated
  }
  const isSatisfied = (operator: string, argument: boolean[]): boolean => {
    if (argument.length === 0 && rules.emptyGroupsAlwaysTrue) return true
    if (operator === '||') return argument.includes(true)
    if (operator === '^^') return argument.filter(Boolean).length === 1
    if (operator === '??') return argument.filter(Boolean).length <= 1
    return !argument.includes(false)
  }
  const popLast = (node: Branch): void => {
    const last = node.parent!.children.pop()
    if (last !== node) throw new RequiredUseError('internal: node is not the last child of its parent')
  }
  const hoistChildren = (node: Branch): void => {
    popLast(node)
    for (const child of node.children) {
      node.parent!.children.push(child)
      if (child.kind === 'branch') child.parent = node.parent
    }
  }

  const tokens = requiredUse.split(/\s+/).filter((t) => t !== '')
  let level = 0
  const stack: (string | boolean)[][] = [[]]
  const tree: Branch = { kind: 'branch', children: [], satisfied: false }
  let node = tree
  let needBracket = false
  for (const token of tokens) {
    if (token === '(') {
      if (!needBracket) {
        const child: Branch = { kind: 'branch', parent: node, children: [], satisfied: false }
        node.children.push(child)
        node = child
      }
      needBracket = false
      stack.push([])
      level++
    } else if (token === ')') {
      if (needBracket || level === 0) throw malformed()
      level--
      const l = stack.pop() as boolean[]
      let op: string | undefined
      const s = stack[level]
      const last = s[s.length - 1]
      if (s.length > 0 && typeof last === 'string' && operators.includes(last)) {
        op = s.pop() as string
        const satisfied = isSatisfied(op, l)
        s.push(satisfied)
        node.satisfied = satisfied
      } else if (s.length > 0 && typeof last === 'string' && last.endsWith('?')) {
        op = s.pop() as string
        if (isActive(op.slice(0, -1))) {
          const satisfied = isSatisfied(op, l)
          s.push(satisfied)
          node.satisfied = satisfied
        } else {
          node.satisfied = true
          popLast(node)
          node = node.parent!
          continue
        }
      }
      if (op === undefined) {
        const satisfied = !l.includes(false)
        node.satisfied = satisfied
        if (l.length > 0) s.push(satisfied)
        if (node.children.length <= 1 || !operators.includes(node.parent!.operator ?? '')) hoistChildren(node)
      } else if (node.children.length === 0) {
        popLast(node)
      } else if (node.children.length === 1 && operators.includes(op)) {
        popLast(node)
        const only = node.children[0]
        node.parent!.children.push(only)
        if (only.kind === 'branch') {
          only.parent = node.parent
          node = only
          if (node.operator === undefined && !operators.includes(node.parent!.operator ?? '')) hoistChildren(node)
        }
      }
      node = node.parent!
    } else if (operators.includes(token)) {
      if (needBracket) throw malformed()
      needBracket = true
      stack[level].push(token)
      const child: Branch = { kind: 'branch', operator: token, parent: node, children: [], satisfied: false }
      node.children.push(child)
      node = child
    } else {
      if (needBracket) throw malformed()
      if (token.endsWith('?')) {
        needBracket = true
        stack[level].push(token)
        const child: Branch = { kind: 'branch', operator: token, parent: node, children: [], satisfied: false }
        node.children.push(child)
        node = child
      } else {
        const satisfied = isActive(token)
        stack[level].push(satisfied)
        node.children.push({ kind: 'leaf', token, satisfied })
      }
    }
  }
  if (level !== 0 || needBracket) throw malformed()
  tree.satisfied = !stack[0].includes(false)
  return { satisfied: tree.satisfied, unsatisfied: render(tree) }
}

function render(node: Node): string {
  if (node.kind === 'leaf') return node.token
  const includeParens = node.parent !== undefined
  const tokens: string[] = []
  if (node.operator !== undefined) tokens.push(node.operator)
  if (includeParens) tokens.push('(')
  let complex = false
  for (let n: Branch | undefined = node; n !== undefined && !complex; n = n.parent) {
    if (n.operator === '||' || n.operator === '^^' || n.operator === '??') complex = true
  }
  for (const child of node.children) {
    if (complex || !child.satisfied) tokens.push(render(child))
  }
  if (includeParens) tokens.push(')')
  return tokens.join(' ')
}

/** Every flag REQUIRED_USE mentions (Portage's `get_required_use_flags`). */
export function requiredUseFlags(requiredUse: string, eapi?: string): Set<string> {
  const operators = eapiRules(eapi).atMostOneOf ? OPERATORS_5 : OPERATORS_4
  const malformed = (): RequiredUseError => new RequiredUseError(`malformed syntax: '${requiredUse}'`)
  const tokens = requiredUse.split(/\s+/).filter((t) => t !== '')
  let level = 0
  let needBracket = false
  const flags = new Set<string>()
  for (const token of tokens) {
    if (token === '(') {
      needBracket = false
      level++
    } else if (token === ')') {
      if (needBracket || level === 0) throw malformed()
      level--
    } else if (operators.includes(token)) {
      if (needBracket) throw malformed()
      needBracket = true
    } else {
      if (needBracket) throw malformed()
      if (token.endsWith('?')) needBracket = true
      flags.add(token.replace(/\?$/, '').replace(/^!/, ''))
    }
  }
  if (level !== 0 || needBracket) throw malformed()
  return flags
}

export interface RequiredUseFix {
  enable: string[]
  disable: string[]
}

/**
 * The smallest set of flag changes (at most `maxChanges`, flags REQUIRED_USE mentions, never a
 * flag the caller pinned) after which REQUIRED_USE holds; null when none is found. Breadth-first,
 * so a one-flag fix is preferred over a two-flag one; ties go to the order flags appear in.
 */
export function suggestRequiredUseFix(opts: {
  requiredUse: string
  use: ReadonlySet<string>
  inIuse: (flag: string) => boolean
  eapi?: string
  /** Flags the user set explicitly: changed only when nothing else works. */
  pinned?: ReadonlySet<string>
  /** Flags that may not change at all (masked or forced by the profile). */
  fixed?: ReadonlySet<string>
  maxChanges?: number
}): RequiredUseFix | null {
  const all = [...requiredUseFlags(opts.requiredUse, opts.eapi)].filter((f) => opts.inIuse(f) && !(opts.fixed?.has(f) ?? false))
  const free = all.filter((f) => !(opts.pinned?.has(f) ?? false))
  const max = opts.maxChanges ?? 3
  for (const pool of [free, all]) {
    for (let k = 1; k <= Math.min(max, pool.length); k++) {
      for (const combo of combinations(pool, k)) {
        const use = new Set(opts.use)
        for (const f of combo) {
          if (use.has(f)) use.delete(f)
          else use.add(f)
        }
        if (checkRequiredUse(opts.requiredUse, use, opts.inIuse, opts.eapi).satisfied) {
          return { enable: combo.filter((f) => use.has(f)), disable: combo.filter((f) => !use.has(f)) }
        }
      }
    }
  }
  return null
}

function* combinations<T>(items: readonly T[], k: number, start = 0): Generator<T[]> {
  if (k === 0) {
    yield []
    return
  }
  for (let i = start; i <= items.length - k; i++) {
    for (const rest of combinations(items, k - 1, i + 1)) yield [items[i], ...rest]
  }
}
