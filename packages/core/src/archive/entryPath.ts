/**
 * Safe entry paths. An entry path is POSIX, relative, with no empty, "." or ".." component;
 * the empty string stands for the tree root itself. Symlink targets are judged lexically from
 * the symlink's own directory: they may go up with "..", but never above the tree root.
 */
import type { Limits } from './limits.js'
import type { NipError } from '../errors.js'
import { refuse, type RefusalContext } from './refusal.js'

export interface EntryPathContext extends RefusalContext {
  limits: Limits
}

/** A relative path with no empty, "." or ".." component: path.join would leave it as it is. */
export function isNormalRelative(p: string): boolean {
  return p !== '' && !p.startsWith('/') && !p.endsWith('/') && !p.includes('//') && !/(^|\/)\.\.?(\/|$)/.test(p)
}

/**
 * Normalise a raw archive name: strip "./" and trailing "/", collapse "a//b" and "a/./b".
 * Returns "" for the root directory ("." or "./"). Refuses empty names, NUL, over-long or too
 * deep paths (ERR_NIP_UNSAFE_NAME), absolute paths (ERR_NIP_UNSAFE_ABSOLUTE_PATH) and any ".."
 * component (ERR_NIP_UNSAFE_PARENT_PATH).
 */
export function normalizeEntryPath(raw: string, ctx: EntryPathContext): string {
  // Most names are normal already: only the limits can refuse them.
  if (isNormalRelative(raw) && !raw.includes('\0')) {
    if (raw.length * 3 > ctx.limits.maxPathLength && Buffer.byteLength(raw) > ctx.limits.maxPathLength) throw overLimit(ctx, 'maxPathLength')
    let depth = 1
    for (let at = raw.indexOf('/'); at !== -1; at = raw.indexOf('/', at + 1)) depth++
    if (depth > ctx.limits.maxDepth) throw overLimit(ctx, 'maxDepth')
    return raw
  }
  if (raw.length === 0) {
    throw refuse('ERR_NIP_UNSAFE_NAME', 'An archive entry has an empty name', 'The archive is malformed or hostile; do not install it.', ctx)
  }
  if (raw.includes('\0')) {
    throw refuse('ERR_NIP_UNSAFE_NAME', 'An archive entry name contains a NUL byte', 'The archive is malformed or hostile; do not install it.', ctx)
  }
  if (raw.startsWith('/')) {
    throw refuse(
      'ERR_NIP_UNSAFE_ABSOLUTE_PATH',
      'An archive entry has an absolute path',
      'Packages must hold relative paths; this archive would write outside its tree. Do not install it.',
      ctx,
    )
  }
  const parts = splitPath(raw)
  if (parts.includes('..')) {
    throw refuse(
      'ERR_NIP_UNSAFE_PARENT_PATH',
      'An archive entry path contains ".."',
      'The archive would write outside its tree (path traversal). Do not install it.',
      ctx,
    )
  }
  const path = parts.join('/')
  if (Buffer.byteLength(path) > ctx.limits.maxPathLength) throw overLimit(ctx, 'maxPathLength')
  if (parts.length > ctx.limits.maxDepth) throw overLimit(ctx, 'maxDepth')
  return path
}

/** Components of a path without empty and "." components ("" → []). */
export function splitPath(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.')
}

/** The directory part of an entry path ("" for an entry at the root). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/')
  return i < 0 ? '' : path.slice(0, i)
}

/**
 * Where a relative symlink target lands, resolved lexically from the directory of `linkPath`:
 * the normalised tree path ("" for the root), or null when it climbs above the root.
 */
export function resolveLexically(linkPath: string, target: string): string | null {
  const stack = splitPath(parentPath(linkPath))
  for (const c of splitPath(target)) {
    if (c === '..') {
      if (stack.length === 0) return null
      stack.pop()
    } else {
      stack.push(c)
    }
  }
  return stack.join('/')
}

/** An absolute target ("/usr/lib/x") rewritten relative to the link's directory, inside the tree. */
export function rebaseAbsoluteTarget(linkPath: string, target: string): string | null {
  const inside = resolveLexically('', target.replace(/^\/+/, ''))
  if (inside === null) return null
  const from = splitPath(parentPath(linkPath))
  const to = splitPath(inside)
  let common = 0
  while (common < from.length && common < to.length && from[common] === to[common]) common++
  const rel = [...from.slice(common).map(() => '..'), ...to.slice(common)].join('/')
  return rel === '' ? '.' : rel
}

export type AbsoluteSymlinkPolicy = 'refuse' | 'rebase'

/**
 * Validate a symlink target; returns the target to record (rebased when it was absolute and
 * `policy` is 'rebase'). Refuses (ERR_NIP_UNSAFE_SYMLINK) empty targets, NUL, absolute targets
 * under 'refuse', and targets that climb out of the tree.
 */
export function checkSymlinkTarget(
  linkPath: string,
  target: string,
  ctx: RefusalContext & { policy: AbsoluteSymlinkPolicy },
): string {
  const hint = 'The archive holds a symlink that points outside its tree; do not install it.'
  if (target.length === 0 || target.includes('\0')) {
    throw refuse('ERR_NIP_UNSAFE_SYMLINK', 'An archive symlink has an empty or NUL-containing target', hint, ctx)
  }
  let recorded = target
  if (target.startsWith('/')) {
    if (ctx.policy !== 'rebase') {
      throw refuse(
        'ERR_NIP_UNSAFE_SYMLINK',
        `An archive symlink has an absolute target ${JSON.stringify(target)}`,
        'Absolute symlinks point into the host system; an adapter may rebase them into the tree (absoluteSymlinks: "rebase").',
        ctx,
      )
    }
    const rebased = rebaseAbsoluteTarget(linkPath, target)
    if (rebased === null) {
      throw refuse('ERR_NIP_UNSAFE_SYMLINK', `An archive symlink target ${JSON.stringify(target)} cannot be rebased into the tree`, hint, ctx)
    }
    recorded = rebased
  }
  if (resolveLexically(linkPath, recorded) === null) {
    throw refuse('ERR_NIP_UNSAFE_SYMLINK', `An archive symlink target ${JSON.stringify(target)} leaves the tree`, hint, ctx)
  }
  return recorded
}

/** A name over one of the limits: ERR_NIP_UNSAFE_NAME naming the limit to raise. */
function overLimit(ctx: EntryPathContext, limit: 'maxPathLength' | 'maxDepth'): NipError {
  const what = limit === 'maxPathLength' ? `longer than ${ctx.limits.maxPathLength} bytes` : `deeper than ${ctx.limits.maxDepth} directories`
  return refuse('ERR_NIP_UNSAFE_NAME', `An archive entry path is ${what}`, `Raise limits.${limit} only if the package is trusted.`, ctx)
}
