// The image store's index file (images.json): what images the node has, their tags, and which layers
// are unpacked. Read at open and checked field by field: a damaged index is one clear error naming the
// file, never an image record with holes in it.
import { UserError } from '../../lib/errors.js';
import { isDigest } from './digest.js';

export interface LayerRecord {
  /** The layer blob (compressed as it was pulled or loaded). */
  digest: string;
  size: number;
  mediaType: string;
  /** Digest of the uncompressed tar: the name of its unpacked folder. */
  diffId: string;
}

export interface ImageRecord {
  /** The config's digest: Docker's image ID. */
  id: string;
  manifestDigest: string;
  layers: LayerRecord[];
  /** `docker.io/library/busybox@sha256:...`: the digests registries know this image by. */
  repoDigests: string[];
  /** From the config (`created`), '' when it has none. */
  created: string;
  /** When this node first stored it. */
  storedAt: string;
}

export interface StoreIndex {
  version: 1;
  images: Record<string, ImageRecord>;
  /** `docker.io/library/busybox:latest` → image ID. */
  tags: Record<string, string>;
  /** diff ID → uncompressed size, for every unpacked layer. */
  layers: Record<string, { size: number }>;
}

export function emptyIndex(): StoreIndex {
  return { version: 1, images: {}, tags: {}, layers: {} };
}

export function parseStoreIndex(text: string, path: string): StoreIndex {
  const bad = (why: string): never => {
    throw new UserError(`image store index ${path} is damaged: ${why}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return bad((err as Error).message);
  }
  if (!isRecord(doc) || doc.version !== 1) return bad('unknown version');
  if (!isRecord(doc.images) || !isRecord(doc.tags) || !isRecord(doc.layers)) return bad('missing sections');
  for (const [id, img] of Object.entries(doc.images)) {
    if (!isRecord(img) || img.id !== id || !isDigest(img.manifestDigest) || !Array.isArray(img.layers)) {
      return bad(`image ${id}`);
    }
    for (const l of img.layers) {
      if (!isRecord(l) || !isDigest(l.digest) || !isDigest(l.diffId) || typeof l.size !== 'number') {
        return bad(`image ${id}: layer`);
      }
    }
    if (!Array.isArray(img.repoDigests) || typeof img.created !== 'string') return bad(`image ${id}`);
  }
  for (const [tag, id] of Object.entries(doc.tags)) {
    if (typeof id !== 'string' || !isRecord(doc.images[id])) return bad(`tag ${tag} points at no image`);
  }
  for (const [diffId, layer] of Object.entries(doc.layers)) {
    if (!isDigest(diffId) || !isRecord(layer) || typeof layer.size !== 'number')
      return bad(`layer ${diffId}`);
  }
  return doc as unknown as StoreIndex;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
