/**
 * A source-neutral version order, used only where no source's own order applies (choosing the
 * next Current among versions whose adapter cannot be loaded): numeric runs compare as
 * numbers, other runs as strings, and a longer version wins a tie ("1.0.1" > "1.0").
 */
export function compareVersionsNatural(a: string, b: string): number {
  const pa = a.match(/\d+|[^\d]+/g) ?? []
  const pb = b.match(/\d+|[^\d]+/g) ?? []
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i]
    const y = pb[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    const nx = /^\d+$/.test(x)
    const ny = /^\d+$/.test(y)
    if (nx && ny) {
      const d = BigInt(x) - BigInt(y)
      if (d !== 0n) return d > 0n ? 1 : -1
    } else if (x !== y) return x < y ? -1 : 1
  }
  return 0
}
