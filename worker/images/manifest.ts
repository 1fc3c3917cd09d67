// The JSON documents of an image (OCI image spec and Docker's schema 2, which share one shape):
// manifests, indexes (manifest lists) and image configs. Parsing checks every field the store and
// the runtime rely on, so a malformed or hostile document is one clear error, never a crash later.
import { UserError } from '../../lib/errors.js';
import { isDigest } from './digest.js';

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** Media types a registry may answer a manifest request with, in the Accept header's order. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
];

const LAYER_TYPES = new Set<string>([
  MediaType.OciLayer,
  MediaType.OciLayerGzip,
  MediaType.DockerLayerGzip,
  MediaType.DockerForeignLayerGzip,
]);

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
}

/** The parts of an image config the runtime uses (`docker inspect`'s Config). */
export interface ContainerConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  StopSignal?: string;
  Labels?: Record<string, string> | null;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; empty_layer?: boolean; comment?: string }>;
}

export class BadDocumentError extends UserError {
  constructor(what: string, why: string) {
    super(`${what}: ${why}`);
    this.name = 'BadDocumentError';
  }
}

function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

function isManifestMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest;
}

/**
 * Parses a manifest or an index. The media type comes from the document or, when it has none (OCI
 * allows that), from the transport (`Content-Type`), or from the shape.
 */
export function parseManifestOrIndex(
  bytes: Buffer,
  what: string,
  transportType?: string,
): { kind: 'manifest'; manifest: Manifest } | { kind: 'index'; index: ImageIndex } {
  const doc = parseJsonObject(bytes, what);
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const type =
    declared ??
    (transportType && (isIndexMediaType(transportType) || isManifestMediaType(transportType))
      ? transportType
      : Array.isArray(doc.manifests)
        ? MediaType.OciIndex
        : MediaType.OciManifest);
  if (doc.schemaVersion !== 2) throw new BadDocumentError(what, 'unsupported schemaVersion (want 2)');
  if (isIndexMediaType(type)) {
    if (!Array.isArray(doc.manifests)) throw new BadDocumentError(what, 'index without manifests');
    const manifests = doc.manifests.map((d, i) => parseDescriptor(d, `${what}: manifests[${i}]`));
    return { kind: 'index', index: { schemaVersion: 2, mediaType: type, manifests } };
  }
  if (!isManifestMediaType(type)) throw new BadDocumentError(what, `unsupported media type ${type}`);
  const config = parseDescriptor(doc.config, `${what}: config`);
  if (!Array.isArray(doc.layers)) throw new BadDocumentError(what, 'manifest without layers');
  const layers = doc.layers.map((d, i) => {
    const layer = parseDescriptor(d, `${what}: layers[${i}]`);
    if (layer.mediaType === MediaType.OciLayerZstd) {
      throw new BadDocumentError(what, `layer ${layer.digest} is zstd-compressed, which is not supported`);
    }
    if (!LAYER_TYPES.has(layer.mediaType)) {
      throw new BadDocumentError(what, `layer ${layer.digest} has unsupported media type ${layer.mediaType}`);
    }
    return layer;
  });
  return { kind: 'manifest', manifest: { schemaVersion: 2, mediaType: type, config, layers } };
}

function parseDescriptor(value: unknown, what: string): Descriptor {
  if (!isObject(value)) throw new BadDocumentError(what, 'not an object');
  if (typeof value.mediaType !== 'string' || value.mediaType === '') {
    throw new BadDocumentError(what, 'missing mediaType');
  }
  const digest = value.digest;
  if (!isDigest(digest))
    throw new BadDocumentError(what, `invalid digest ${JSON.stringify(digest)} (want sha256:<64 hex>)`);
  const size = value.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new BadDocumentError(what, `invalid size ${JSON.stringify(size)}`);
  }
  const out: Descriptor = { mediaType: value.mediaType, digest, size };
  if (value.platform !== undefined) out.platform = parsePlatform(value.platform, `${what}: platform`);
  if (isObject(value.annotations)) out.annotations = stringRecord(value.annotations);
  return out;
}

function parsePlatform(value: unknown, what: string): Platform {
  if (!isObject(value) || typeof value.os !== 'string' || typeof value.architecture !== 'string') {
    throw new BadDocumentError(what, 'needs os and architecture');
  }
  const out: Platform = { os: value.os, architecture: value.architecture };
  if (typeof value.variant === 'string' && value.variant !== '') out.variant = value.variant;
  return out;
}

/** Parses an image config and checks it has one diff ID per layer of its manifest. */
export function parseImageConfig(bytes: Buffer, what: string, layerCount?: number): ImageConfig {
  const doc = parseJsonObject(bytes, what);
  if (typeof doc.architecture !== 'string' || typeof doc.os !== 'string') {
    throw new BadDocumentError(what, 'needs os and architecture');
  }
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw new BadDocumentError(what, 'needs rootfs.type "layers" and rootfs.diff_ids');
  }
  rootfs.diff_ids.forEach((d, i) => {
    if (!isDigest(d))
      throw new BadDocumentError(what, `rootfs.diff_ids[${i}]: invalid digest ${JSON.stringify(d)}`);
  });
  if (layerCount !== undefined && rootfs.diff_ids.length !== layerCount) {
    throw new BadDocumentError(
      what,
      `has ${rootfs.diff_ids.length} diff IDs for ${layerCount} layers in its manifest`,
    );
  }
  if (doc.config !== undefined && doc.config !== null && !isObject(doc.config)) {
    throw new BadDocumentError(what, 'config is not an object');
  }
  const config = isObject(doc.config) ? doc.config : undefined;
  for (const key of ['Env', 'Entrypoint', 'Cmd'] as const) {
    const v = config?.[key];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
      throw new BadDocumentError(what, `config.${key} is not a list of strings`);
    }
  }
  return doc as unknown as ImageConfig;
}

/** This node's platform in OCI terms (Node's `x64` is `amd64`, `arm64` is `arm64/v8`). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    s390x: 's390x',
  };
  const architecture = arch[process.arch] ?? process.arch;
  return { os: 'linux', architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) };
}

/**
 * Picks the manifest for a platform from an index, as containerd's platform matcher does: os and
 * architecture must match; a variant must match when both sides name one (arm64's only one is v8).
 */
export function choosePlatformManifest(index: ImageIndex, want: Platform, what: string): Descriptor {
  const normalizeVariant = (p: Platform) =>
    p.architecture === 'arm64' && p.variant === undefined ? 'v8' : p.variant;
  const candidates = index.manifests.filter(
    (d) =>
      d.platform !== undefined &&
      isManifestMediaType(d.mediaType) &&
      d.platform.os === want.os &&
      d.platform.architecture === want.architecture,
  );
  const exact = candidates.find((d) => normalizeVariant(d.platform!) === normalizeVariant(want));
  const loose = candidates.find((d) => d.platform!.variant === undefined || want.variant === undefined);
  const chosen = exact ?? loose;
  if (!chosen) {
    const p = `${want.os}/${want.architecture}${want.variant ? '/' + want.variant : ''}`;
    throw new UserError(`${what}: no matching manifest for ${p} in the manifest list entries`);
  }
  return chosen;
}

function parseJsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new BadDocumentError(what, `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(doc)) throw new BadDocumentError(what, 'not a JSON object');
  return doc;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringRecord(value: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}
