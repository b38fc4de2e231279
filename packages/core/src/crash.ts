/**
 * Crash points for the crash-consistency tests: when NIP_CRASH_AT names a step, the process
 * kills itself with SIGKILL right there, as a power cut would. Steps are listed in
 * docs/architecture.md. With NIP_CRASH_AT=random:<seed>:<p>, every step fires with
 * probability p (deterministic per seed), for randomised kill tests.
 */
let counter = 0

export function crashPoint(step: string): void {
  const at = process.env.NIP_CRASH_AT
  if (!at) return
  if (at === step) process.kill(process.pid, 'SIGKILL')
  if (at.startsWith('random:')) {
    const [, seedText, pText] = at.split(':')
    const p = Number(pText ?? '0.05')
    counter++
    // xorshift over (seed, counter): deterministic and dependency-free
    let x = (Number(seedText) * 2654435761 + counter * 40503) >>> 0 || 1
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    if (x / 0xffffffff < p) process.kill(process.pid, 'SIGKILL')
  }
}
