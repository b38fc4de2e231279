/**
 * The Podman executor (`[build] executor = "podman"`): each step runs in a fresh container of a
 * configured image, driven through Podman's Docker-compatible API socket with dockerode
 * (`podman system service --time=0 unix://PATH`), under the same policy as bubblewrap: no
 * network (`NetworkMode: none`), the image's root file system read-only, every capability
 * dropped, uid/gid 1000, a private /tmp, the build directory bound read-write at /build, the
 * source archives and the root's /Programs read-only, the cleared and fixed environment of the
 * plan, umask 022. The toolchain is the image's: its id is part of the fingerprint.
 *
 * The work directory is handed to uid 1000 before the first step (buildFs.chownTree), so that
 * the unprivileged build can write it.
 */
import { Writable } from 'node:stream'
import { writeSync } from 'node:fs'
import type Docker from 'dockerode'
import type { Executor, SandboxMounts, StepOutcome } from './executor.js'
import type { ExecutorIdentity } from './fingerprint.js'
import type { PlannedStep } from './plan.js'
import { SANDBOX } from './plan.js'
import { chownTree } from './buildFs.js'

export const BUILD_UID = 1000

export interface PodmanOptions {
  /** The API socket (unix path). */
  socket: string
  /** Image name or id holding the toolchain. */
  image: string
}

export class PodmanExecutor implements Executor {
  readonly id = 'podman'
  private docker: Docker | null = null
  private imageId: string | null = null
  private version: string | null = null
  private readonly prepared = new Set<string>()

  constructor(private readonly opts: PodmanOptions) {}

  private async client(): Promise<Docker> {
    if (!this.docker) {
      const { default: DockerCtor } = await import('dockerode')
      this.docker = new DockerCtor({ socketPath: this.opts.socket })
    }
    return this.docker
  }

  async probe(): Promise<{ ok: boolean; detail: string }> {
    const how = `Start Podman's API socket with: podman system service --time=0 unix://${this.opts.socket} & (apt-get install podman runc), and set [build] podman-socket.`
    let docker: Docker
    try {
      docker = await this.client()
      const v = (await docker.version()) as { Version?: string; Components?: { Name: string; Version: string }[] }
      this.version = `podman ${v.Components?.find((c) => /podman/i.test(c.Name))?.Version ?? v.Version ?? 'unknown'}`
    } catch (e) {
      return { ok: false, detail: `Podman's API socket ${this.opts.socket} does not answer (${(e as Error).message}). ${how}` }
    }
    try {
      const info = await docker.getImage(this.opts.image).inspect()
      this.imageId = info.Id
    } catch {
      return { ok: false, detail: `The build image ${this.opts.image} is not in Podman's store. nip bootstrap install container makes localhost/nip-build:bookworm; or import one, e.g.: debootstrap --variant=minbase --include=build-essential bookworm DIR <mirror>; tar -C DIR -c . | podman import - ${this.opts.image}` }
    }
    return { ok: true, detail: `${this.version}, image ${this.opts.image} (${this.imageId})` }
  }

  async identity(): Promise<ExecutorIdentity> {
    if (!this.imageId || !this.version) {
      const p = await this.probe()
      if (!p.ok) throw new Error(p.detail)
    }
    return { id: this.id, version: this.version!, toolchain: { image: this.opts.image, imageId: this.imageId! } }
  }

  async run(step: PlannedStep, opts: { mounts: SandboxMounts; env: Record<string, string>; logFd: number; signal?: AbortSignal }): Promise<StepOutcome> {
    const docker = await this.client()
    if (!this.prepared.has(opts.mounts.workDir)) {
      chownTree(opts.mounts.workDir, BUILD_UID, BUILD_UID)
      this.prepared.add(opts.mounts.workDir)
    }
    const env = { ...opts.env, ...(step.env ?? {}) }
    const binds = [`${opts.mounts.workDir}:${SANDBOX.build}:rw`, ...opts.mounts.sources.map((s) => `${s.host}:${SANDBOX.sources}/${s.name}:ro`), ...opts.mounts.views.map((v) => `${v.host}:${v.inside}:ro`)]
    const container = await docker.createContainer({
      Image: this.opts.image,
      Cmd: ['/bin/sh', '-c', 'umask 022 && exec "$@"', 'nip-step', ...step.argv],
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      WorkingDir: step.cwd,
      User: `${BUILD_UID}:${BUILD_UID}`,
      Hostname: 'nip-build',
      NetworkDisabled: true,
      HostConfig: { NetworkMode: 'none', Binds: binds, CapDrop: ['ALL'], ReadonlyRootfs: true, Tmpfs: { '/tmp': 'rw,size=4g' }, SecurityOpt: ['no-new-privileges'] },
    })
    const exitCode = await runContainer(docker, container, (chunk) => writeSync(opts.logFd, chunk), opts.signal, async (status) => {
      // A status the step did not give itself (the runtime failed): say what Podman knows.
      if (status >= 0 && status <= 255) return
      const state = (await container.inspect().catch(() => null))?.State
      writeSync(opts.logFd, `\n## podman: container ended with status ${status}${state ? ` (state ${state.Status}, exit code ${state.ExitCode}${state.Error ? `, error: ${state.Error}` : ''}${state.OOMKilled ? ', killed for lack of memory' : ''})` : ''}\n`)
    })
    return { exitCode, signal: opts.signal?.aborted ? 'SIGTERM' : null }
  }
}

/**
 * Runs a created container to its end and returns its status: its output (stdout and stderr,
 * demultiplexed) goes to `write`, an abort kills it, `before` sees the status while the container
 * still exists, and the container is removed afterwards whatever happens.
 */
export async function runContainer(docker: Docker, container: Docker.Container, write: (chunk: Buffer) => void, signal?: AbortSignal, before?: (status: number) => Promise<void>): Promise<number> {
  const onAbort = () => void container.kill().catch(() => undefined)
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true })
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        write(chunk)
        done()
      },
    })
    docker.modem.demuxStream(stream, sink, sink)
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve)
      stream.on('close', resolve)
      stream.on('error', () => resolve())
    })
    await container.start()
    const result = (await container.wait()) as { StatusCode: number }
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))])
    await before?.(result.StatusCode)
    return result.StatusCode
  } finally {
    signal?.removeEventListener('abort', onAbort)
    await container.remove({ force: true }).catch(() => undefined)
  }
}
