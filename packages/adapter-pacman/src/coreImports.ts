/** The pieces of @nip/core this adapter uses, plus small path helpers core does not export. */
export * from '@nip/core'

/** The directory part of a tree path ("" at the root). */
export function parentPathOf(p: string): string {
  const i = p.lastIndexOf('/')
  return i < 0 ? '' : p.slice(0, i)
}
