/** An age for messages about cached data: "40 s", "12 min", "3 h 5 min", "2 days". */
export function describeAge(seconds: number): string {
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.round(s / 60)} min`
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`
  const days = Math.round(s / 86400)
  return `${days} day${days === 1 ? '' : 's'}`
}
