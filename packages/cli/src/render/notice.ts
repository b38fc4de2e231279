/** One-off notices printed on stderr. */
export function renderPathNotice(executablesDir: string): string {
  return `nip: programs are grafted under a per-user root; add its executables to your PATH:\n  export PATH="${executablesDir}:$PATH"\n`
}
