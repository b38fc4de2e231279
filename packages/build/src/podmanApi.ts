/**
 * The few image operations nip asks of Podman, through its API socket with dockerode (as the
 * Podman executor does): ping, inspect, import a root file system tar (libpod's
 * `POST /libpod/images/import`, which answers with the new image's id), pull (libpod's
 * `POST /libpod/images/pull`, which takes `tlsVerify`), tag, untag, remove, list by label, and
 * run one command in a container of an image under the executor's policy (no network, every
 * capability dropped, the root file system read-only).
 *
 * Errors are NipErrors: a socket that does not answer is ERR_NIP_EXECUTOR_MISSING with the way
 * to start it; what Podman refuses carries Podman's own message.
 */
import type { Readable } from 'node:stream'
import type Docker from 'dockerode'
import { NipError } from '@nip/core'
import { runContainer } from './podman.js'

/** libpod endpoints need a version prefix; every Podman 4 and later serves this one. */
const LIBPOD = '/v4.0.0/libpod'

export interface ImageInfo {
  /** `sha256:<hex>`. */
  id: string
  tags: string[]
  digests: string[]
  labels: Record<string, string>
  size: number
}

/** `sha256:<hex>` whatever form Podman answered with (libpod's pull gives bare hex). */
export function imageId(id: string): string {
  return id.startsWith('sha256:') ? id : `sha256:${id}`
}

/** `HOST/PATH:TAG` → repo `HOST/PATH`, tag `TAG` (a name without a tag is `latest`). */
export function splitName(name: string): { repo: string; tag: string } {
  const slash = name.lastIndexOf('/')
  const colon = name.lastIndexOf(':')
  return colon > slash ? { repo: name.slice(0, colon), tag: name.slice(colon + 1) } : { repo: name, tag: 'latest' }
}

export function socketHint(socket: string): string {
  return `Start Podman's API socket: podman system service --time=0 unix://${socket} & (apt-get install podman runc), and set [build] podman-socket if it lives elsewhere (docs/build.md).`
}

export class PodmanApi {
  private docker: Docker | null = null

  constructor(readonly socket: string) {}

  async client(): Promise<Docker> {
    if (!this.docker) {
      const { default: DockerCtor } = await import('dockerode')
      this.docker = new DockerCtor({ socketPath: this.socket })
    }
    return this.docker
  }

  /** Podman's version when the socket answers within `timeoutMs`, else null. */
  async ping(timeoutMs = 5000): Promise<{ version: string } | { error: string }> {
    const docker = await this.client()
    let timer: NodeJS.Timeout | undefined
    try {
      const v = (await Promise.race([
        docker.version(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs)
        }),
      ])) as { Version?: string; Components?: { Name: string; Version: string }[] }
      return { version: v.Components?.find((c) => /podman/i.test(c.Name))?.Version ?? v.Version ?? 'unknown' }
    } catch (e) {
      return { error: (e as Error).message }
    } finally {
      clearTimeout(timer)
    }
  }

  /** Throws ERR_NIP_EXECUTOR_MISSING unless the socket answers. */
  async require(): Promise<string> {
    const p = await this.ping()
    if ('error' in p) throw new NipError('ERR_NIP_EXECUTOR_MISSING', `Podman's API socket ${this.socket} does not answer (${p.error}).`, { hint: socketHint(this.socket), data: { socket: this.socket } })
    return p.version
  }

  async inspect(name: string): Promise<ImageInfo | null> {
    const docker = await this.client()
    try {
      const i = (await docker.getImage(name).inspect()) as { Id: string; RepoTags?: string[] | null; RepoDigests?: string[] | null; Config?: { Labels?: Record<string, string> | null }; Labels?: Record<string, string> | null; Size?: number }
      return { id: imageId(i.Id), tags: i.RepoTags ?? [], digests: i.RepoDigests ?? [], labels: i.Config?.Labels ?? i.Labels ?? {}, size: i.Size ?? 0 }
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return null
      throw this.failed(`inspecting the image ${name}`, e)
    }
  }

  /** Imports a root file system tar as a new image with no name; returns its id. */
  async importTar(tar: Readable, opts: { changes: string[]; message: string; signal?: AbortSignal }): Promise<string> {
    const docker = await this.client()
    const res = (await this.dial(docker, { path: `${LIBPOD}/images/import?`, method: 'POST', options: { changes: opts.changes, message: opts.message }, file: tar, ...(opts.signal ? { abortSignal: opts.signal } : {}) }, 'importing the root file system')) as { Id?: string; id?: string } | Buffer
    const id = Buffer.isBuffer(res) ? (JSON.parse(res.toString('utf8')) as { Id?: string }).Id : (res.Id ?? res.id)
    if (!id) throw new NipError('ERR_NIP_INTERNAL', `Podman's import answered without an image id: ${JSON.stringify(res).slice(0, 200)}`)
    return imageId(id)
  }

  /** Pulls `reference` (`tlsVerify: false` for a registry the configuration marks insecure); returns the image id. */
  async pull(reference: string, opts: { tlsVerify: boolean; signal?: AbortSignal }): Promise<string> {
    const docker = await this.client()
    const res = await this.dial(docker, { path: `${LIBPOD}/images/pull?`, method: 'POST', options: { reference, tlsVerify: opts.tlsVerify, quiet: true, policy: 'always' }, ...(opts.signal ? { abortSignal: opts.signal } : {}) }, `pulling ${reference}`)
    // One JSON object, or (from other versions) one per line: the error or the image id is in the last.
    const objects: { error?: string; id?: string; images?: string[] }[] = Buffer.isBuffer(res) || typeof res === 'string'
      ? String(res).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
      : [res as { error?: string; id?: string }]
    const failed = objects.find((o) => o.error)
    if (failed) {
      throw new NipError('ERR_NIP_REGISTRY', `Podman could not pull ${reference}: ${failed.error}`, {
        hint: /HTTP response to HTTPS client/.test(failed.error!) ? `The registry speaks plain HTTP: list its HOST[:PORT] in [oci] insecure-registries (docs/fleet.md).` : 'Check [build] container-image and that the registry holds that image; nothing was installed.',
        data: { reference },
      })
    }
    const id = objects.reverse().find((o) => o.id || o.images?.length)
    if (!id) throw new NipError('ERR_NIP_INTERNAL', `Podman's pull of ${reference} answered without an image id.`)
    return imageId(id.id ?? id.images![0])
  }

  async tag(id: string, name: string): Promise<void> {
    const docker = await this.client()
    const { repo, tag } = splitName(name)
    try {
      await docker.getImage(id).tag({ repo, tag })
    } catch (e) {
      throw this.failed(`tagging ${id} as ${name}`, e)
    }
  }

  async untag(id: string, name: string): Promise<void> {
    const docker = await this.client()
    const { repo, tag } = splitName(name)
    await this.dial(docker, { path: `${LIBPOD}/images/${encodeURIComponent(id)}/untag?`, method: 'POST', options: { repo, tag } }, `untagging ${name}`)
  }

  /**
   * Removes the name (or the id): an image with other names only loses this one, as `podman rmi
   * NAME` does. Returns false when there was nothing by that name.
   */
  async remove(nameOrId: string): Promise<boolean> {
    const docker = await this.client()
    try {
      await docker.getImage(nameOrId).remove()
      return true
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return false
      throw this.failed(`removing the image ${nameOrId}`, e)
    }
  }

  /**
   * Ids of the images carrying every label given (`key=value`). Podman 4.3 answers nothing when
   * the filter names two labels, so it is asked for the first and the rest are checked here.
   */
  async withLabels(labels: string[], opts: { dangling?: boolean } = {}): Promise<{ id: string; tags: string[] }[]> {
    const docker = await this.client()
    const list = await docker.listImages({ filters: { label: labels.slice(0, 1), ...(opts.dangling ? { dangling: ['true'] } : {}) } })
    const want = labels.map((l) => l.split('=', 2) as [string, string])
    return list
      .filter((i) => want.every(([k, v]) => (i.Labels ?? {})[k] === v))
      .map((i) => ({ id: imageId(i.Id), tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>') }))
  }

  /** Runs `cmd` in a fresh container of `image` (no network, no capabilities, read-only root) and returns its exit status and output. */
  async run(image: string, cmd: string[], opts: { signal?: AbortSignal } = {}): Promise<{ exitCode: number; output: string }> {
    const docker = await this.client()
    const container = await docker.createContainer({ Image: image, Cmd: cmd, NetworkDisabled: true, HostConfig: { NetworkMode: 'none', CapDrop: ['ALL'], ReadonlyRootfs: true, SecurityOpt: ['no-new-privileges'] } })
    let output = ''
    const exitCode = await runContainer(docker, container, (chunk) => {
      if (output.length < 1 << 16) output += chunk.toString('utf8')
    }, opts.signal)
    return { exitCode, output }
  }

  private dial(docker: Docker, o: Record<string, unknown>, what: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      docker.modem.dial({ statusCodes: { 200: true, 201: true, 204: true, 400: 'bad parameter', 404: 'no such image', 409: 'conflict', 500: 'server error' }, ...o } as never, (err: unknown, data: unknown) => (err ? reject(this.failed(what, err)) : resolve(data)))
    })
  }

  private failed(what: string, e: unknown): NipError {
    const err = e as { statusCode?: number; json?: unknown; message?: string; code?: string }
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
      return new NipError('ERR_NIP_EXECUTOR_MISSING', `Podman's API socket ${this.socket} does not answer (${err.code}) while ${what}.`, { hint: socketHint(this.socket), data: { socket: this.socket } })
    }
    const body = err.json && typeof err.json === 'object' && !Buffer.isBuffer(err.json) ? (err.json as { message?: string; cause?: string }).message : Buffer.isBuffer(err.json) ? err.json.toString('utf8').trim() : undefined
    return new NipError('ERR_NIP_BUILD_FAILED', `Podman failed ${what}: ${body || err.message || String(e)}`, { hint: 'Nothing was installed; Podman\'s own log (journalctl or the service\'s output) may say more.', data: { socket: this.socket, status: err.statusCode ?? null }, cause: e as Error })
  }
}
