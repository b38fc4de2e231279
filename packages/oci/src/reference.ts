/**
 * Registry references: `oci://HOST[:PORT]/REPO[/...]` names one repository of one registry.
 * The scheme on the wire is https, or http for a registry the configuration marks insecure
 * (`[oci] insecure-registries`); nothing else ever downgrades to plain HTTP.
 */
import { NipError } from '@nip/core'

export interface RegistryRef {
  /** `host` or `host:port`, as credentials and the insecure list name it. */
  host: string
  /** Repository path, e.g. `team/nip`. */
  repository: string
  /** The reference as written (`oci://host:port/repo`). */
  url: string
}

/** Repository names per the distribution spec: lowercase path components joined by `/`. */
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?$/

export function parseRegistryRef(text: string): RegistryRef {
  const m = /^oci:\/\/([^/]+)\/(.+?)\/?$/.exec(text.trim())
  if (!m || !HOST.test(m[1]) || !REPOSITORY.test(m[2])) {
    throw new NipError('ERR_NIP_USAGE', `${JSON.stringify(text)} is not a registry reference.`, {
      hint: 'Write oci://HOST[:PORT]/REPOSITORY, e.g. oci://registry.example.org:5000/team/nip (repository names are lowercase).',
      data: { reference: text },
    })
  }
  return { host: m[1], repository: m[2], url: `oci://${m[1]}/${m[2]}` }
}

/** OCI tags: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`. Other characters become `_`. */
export function tagFor(name: string, version: string, fingerprint: string): string {
  const raw = `${name}-${version}-${fingerprint.slice(0, 16)}`.replace(/[^A-Za-z0-9._-]/g, '_')
  const t = /^[A-Za-z0-9_]/.test(raw) ? raw : `_${raw}`
  return t.length <= 128 ? t : `${t.slice(0, 110)}-${fingerprint.slice(0, 16)}`
}

export const INDEX_TAG = 'nip-index'
