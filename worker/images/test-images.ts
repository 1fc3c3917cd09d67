// For the image tests: small real images built from the busybox-static Debian package (the statically
// linked /bin/busybox), as layer tars, an OCI image layout and a `docker save` archive; and tars of any
// shape, hostile ones included, built entry by entry.
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { sha256Digest } from './digest.js';
import { MediaType, type Descriptor } from './manifest.js';

const BUSYBOX = '/bin/busybox';
const MTIME = new Date('2026-01-01T00:00:00Z');

export interface TarEntry {
  name: string;
  type?: tar.Header['type'];
  body?: string | Buffer;
  mode?: number;
  linkname?: string;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

/** A tar of exactly these entries (not checked: hostile shapes are the point). */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(Buffer.from(c as Uint8Array)));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      mtime: MTIME,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
      ...(e.pax ? { pax: e.pax } : {}),
    };
    await new Promise<void>((resolve, reject) =>
      type === 'file'
        ? pack.entry(header, body, (err) => (err ? reject(err) : resolve()))
        : pack.entry(header, (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function requireBusybox(): Buffer {
  if (!existsSync(BUSYBOX)) {
    throw new Error(
      `the image tests need ${BUSYBOX}: apt-get install busybox-static (deploy/setup.sh installs it)`,
    );
  }
  return readFileSync(BUSYBOX);
}

export interface TestLayer {
  /** The blob as stored and shipped (gzipped or not). */
  blob: Buffer;
  descriptor: Descriptor;
  diffId: string;
}

export interface TestImage {
  layers: TestLayer[];
  config: Buffer;
  configDescriptor: Descriptor;
  manifest: Buffer;
  manifestDescriptor: Descriptor;
}

/**
 * Two layers: busybox with a few applets, /etc/motd and /data/{a,b}; then a layer that deletes
 * /etc/motd (a whiteout), replaces /data wholesale (opaque: only /data/c remains) and adds /etc/greeting.
 */
export async function buildBusyboxImage(opts: { env?: string[]; marker?: string } = {}): Promise<TestImage> {
  const busybox = requireBusybox();
  const base = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: busybox, mode: 0o755 },
    ...['sh', 'ls', 'cat', 'echo', 'httpd', 'true'].map((applet) => ({
      name: `bin/${applet}`,
      type: 'symlink' as const,
      linkname: 'busybox',
    })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/motd', body: 'welcome\n' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'data/', type: 'directory' },
    { name: 'data/a', body: 'a\n' },
    { name: 'data/b', body: 'b\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
  const top = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.motd' },
    { name: 'etc/greeting', body: `${opts.marker ?? 'hello'}\n` },
    { name: 'data/', type: 'directory' },
    { name: 'data/.wh..wh..opq' },
    { name: 'data/c', body: 'c\n' },
  ]);
  return imageOf([layerOf(base, true), layerOf(top, false)], {
    Env: opts.env ?? ['PATH=/bin', 'GREETING=hello'],
    Entrypoint: ['/bin/sh', '-c'],
    Cmd: ['cat /etc/greeting'],
    WorkingDir: '/',
    ExposedPorts: { '80/tcp': {} },
  });
}

/** An amd64/linux image of these layers, with `config` as its container config. */
export function imageOf(layers: TestLayer[], config: Record<string, unknown>): TestImage {
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: MTIME.toISOString(),
      config,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created_by: `layer ${i}` })),
    }),
  );
  const configDescriptor = {
    mediaType: MediaType.OciConfig,
    digest: sha256Digest(configBytes),
    size: configBytes.length,
  };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: configDescriptor,
      layers: layers.map((l) => l.descriptor),
    }),
  );
  const manifestDescriptor = {
    mediaType: MediaType.OciManifest,
    digest: sha256Digest(manifest),
    size: manifest.length,
    platform: { os: 'linux', architecture: 'amd64' },
  };
  return { layers, config: configBytes, configDescriptor, manifest, manifestDescriptor };
}

export function layerOf(tarBytes: Buffer, gzip: boolean): TestLayer {
  const blob = gzip ? gzipSync(tarBytes) : tarBytes;
  return {
    blob,
    diffId: sha256Digest(tarBytes),
    descriptor: {
      mediaType: gzip ? MediaType.OciLayerGzip : MediaType.OciLayer,
      digest: sha256Digest(blob),
      size: blob.length,
    },
  };
}

/** An OCI image layout, as a tar (`docker save` of Docker 25+ and `skopeo copy oci-archive:` make these). */
export async function ociLayoutTar(image: TestImage, refName: string): Promise<Buffer> {
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      { ...image.manifestDescriptor, annotations: { 'org.opencontainers.image.ref.name': refName } },
    ],
  };
  return makeTar([
    { name: 'oci-layout', body: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', body: JSON.stringify(index) },
    { name: 'blobs/', type: 'directory' },
    { name: 'blobs/sha256/', type: 'directory' },
    ...blobsOf(image).map(([digest, body]) => ({ name: `blobs/sha256/${digest.slice(7)}`, body })),
  ]);
}

/** A classic `docker save` archive: manifest.json, <id>.json, <dir>/layer.tar (uncompressed). */
export async function dockerSaveTar(image: TestImage, repoTags: string[]): Promise<Buffer> {
  const { gunzipSync } = await import('node:zlib');
  const layers = image.layers.map((l, i) => ({
    name: `layer${i}/layer.tar`,
    body: l.descriptor.mediaType === MediaType.OciLayerGzip ? gunzipSync(l.blob) : l.blob,
  }));
  const configName = `${image.configDescriptor.digest.slice(7)}.json`;
  return makeTar([
    {
      name: 'manifest.json',
      body: JSON.stringify([{ Config: configName, RepoTags: repoTags, Layers: layers.map((l) => l.name) }]),
    },
    { name: configName, body: image.config },
    ...layers.flatMap((l, i) => [{ name: `layer${i}/`, type: 'directory' as const }, l]),
  ]);
}

export function blobsOf(image: TestImage): Array<[string, Buffer]> {
  return [
    [image.manifestDescriptor.digest, image.manifest],
    [image.configDescriptor.digest, image.config],
    ...image.layers.map((l): [string, Buffer] => [l.descriptor.digest, l.blob]),
  ];
}
