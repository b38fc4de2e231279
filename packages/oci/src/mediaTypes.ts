/** The media types nip's artifacts use (OCI image manifest + artifactType, image-spec 1.1). */
export const MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
export const INDEX = 'application/vnd.oci.image.index.v1+json'
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
export const EMPTY = 'application/vnd.oci.empty.v1+json'
/** A grafted program: the artifact type, and its config blob (the signed program document). */
export const PROGRAM_ARTIFACT = 'application/vnd.nip.program.v1'
export const PROGRAM_CONFIG = 'application/vnd.nip.program.config.v1+json'
/** A layer: the contents of one or more files, concatenated (offsets in the config). */
export const PACK = 'application/vnd.nip.pack.v1'
/** The cache's index: one artifact per repository listing every program it holds. */
export const INDEX_ARTIFACT = 'application/vnd.nip.index.v1'
export const INDEX_LAYER = 'application/vnd.nip.index.v1+json'

export const SIGNATURE_ANNOTATION = 'dev.nip.signature'
export const ACCEPT_MANIFESTS = [MANIFEST, INDEX, DOCKER_MANIFEST, 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ')

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
  artifactType?: string
}

export interface ImageManifest {
  schemaVersion: 2
  mediaType: string
  artifactType?: string
  config: Descriptor
  layers: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}
