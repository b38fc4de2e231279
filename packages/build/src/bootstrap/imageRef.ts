/**
 * `[build] container-image`: the registry reference the container build image is pulled from
 * (docs/bootstrap.md), `HOST[:PORT]/PATH:TAG`, `HOST[:PORT]/PATH@sha256:DIGEST` or both. The host
 * is always written out: nip never lets Podman resolve a short name through a search list, so the
 * configuration alone decides where the image comes from. A digest pins the image: the pull is by
 * digest and Podman checks the manifest against it.
 *
 * Plain HTTP (and no certificate check) only for a registry listed in `[oci] insecure-registries`,
 * the one list of such registries nip keeps (docs/fleet.md).
 */
import { NipError } from '@nip/core'

export interface ImageReference {
  /** As configured. */
  text: string
  /** `host` or `host:port`. */
  registry: string
  /** `host[:port]/path`. */
  repository: string
  tag?: string
  /** `sha256:<64 hex>`. */
  digest?: string
  /** What is pulled: by digest when one is given. */
  pull: string
}

const HOST = /^(?:localhost|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+|\[[0-9a-f:]+\])(?::[0-9]{1,5})?$|^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?:[0-9]{1,5}$/
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/

function bad(text: string, why: string): NipError {
  return new NipError('ERR_NIP_CONFIG', `build.container-image: ${JSON.stringify(text)} ${why}.`, {
    hint: 'Write HOST[:PORT]/PATH:TAG or HOST[:PORT]/PATH@sha256:DIGEST, e.g. registry.example.org/nip/build:bookworm (docs/bootstrap.md).',
    data: { key: 'build.container-image', value: text },
  })
}

export function parseImageReference(text: string): ImageReference {
  const at = text.indexOf('@')
  const named = at >= 0 ? text.slice(0, at) : text
  const digest = at >= 0 ? text.slice(at + 1) : undefined
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) throw bad(text, 'has a digest that is not sha256: and 64 lowercase hex digits')
  const slash = named.indexOf('/')
  if (slash < 0) throw bad(text, 'names no registry host')
  const registry = named.slice(0, slash)
  if (!HOST.test(registry)) throw bad(text, `does not start with a registry host (${JSON.stringify(registry)} is not HOST[:PORT] with a dot, a port, or localhost)`)
  let rest = named.slice(slash + 1)
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon >= 0) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) throw bad(text, `has a bad tag ${JSON.stringify(tag)}`)
  }
  if (rest === '' || !rest.split('/').every((c) => COMPONENT.test(c))) throw bad(text, 'has a bad repository path (lowercase letters, digits, ., _, - between slashes)')
  if (tag === undefined && digest === undefined) throw bad(text, 'names neither a tag nor a digest')
  const repository = `${registry}/${rest}`
  return { text, registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}), pull: digest !== undefined ? `${repository}@${digest}` : `${repository}:${tag}` }
}

/** Whether nip speaks plain HTTP (and skips certificate checks) to the registry: listed in `[oci] insecure-registries`. */
export function insecureRegistry(ref: ImageReference, oci: Record<string, unknown>): boolean {
  const list = oci['insecure-registries']
  const hosts = typeof list === 'string' ? [list] : Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : []
  return hosts.includes(ref.registry)
}
