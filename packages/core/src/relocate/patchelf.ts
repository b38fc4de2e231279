/**
 * Running `patchelf` (NixOS/patchelf; what Spack and Homebrew use for the same job): the second
 * way to set a RUNPATH, for the files nip's own editor (elfEdit.ts) refuses. Optional: without it
 * those files are ERR_NIP_RELOCATION_FAILED.
 */
import { execFile } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import path from 'node:path'

/** The first executable `patchelf` on PATH, or null. */
export async function findPatchelf(envPath: string | undefined = process.env.PATH): Promise<string | null> {
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (dir === '' || !path.isAbsolute(dir)) continue
    const candidate = path.join(dir, 'patchelf')
    try {
      await access(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return null
}

export interface PatchelfFailure {
  message: string
}

/** `patchelf --set-rpath <runpath> <files…>`: null on success, else what patchelf said. */
export function setRunpath(patchelf: string, runpath: string, files: string[], signal?: AbortSignal): Promise<PatchelfFailure | null> {
  return new Promise((resolve) => {
    execFile(
      patchelf,
      ['--set-rpath', runpath, ...files],
      { encoding: 'utf8', maxBuffer: 1024 * 1024, ...(signal ? { signal } : {}) },
      (err, _stdout, stderr) => {
        if (err === null) resolve(null)
        else resolve({ message: (stderr || err.message).trim().split('\n').slice(-3).join('; ') })
      },
    )
  })
}
