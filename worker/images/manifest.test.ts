import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestingStream, SizeMismatchError, checkDigest, sha256Digest } from './digest.js';
import {
  BadDocumentError,
  MediaType,
  choosePlatformManifest,
  hostPlatform,
  parseImageConfig,
  parseManifestOrIndex,
  type ImageIndex,
} from './manifest.js';

const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const manifest = (over: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: D1, size: 10 },
  layers: [{ mediaType: MediaType.OciLayerGzip, digest: D2, size: 20 }],
  ...over,
});

test('manifests and indexes are told apart by media type, transport type or shape', () => {
  assert.equal(parseManifestOrIndex(json(manifest()), 'm').kind, 'manifest');
  const docker = parseManifestOrIndex(json(manifest({ mediaType: MediaType.DockerManifest })), 'm');
  assert.equal(docker.kind === 'manifest' && docker.manifest.mediaType, MediaType.DockerManifest);
  // No mediaType in the document (allowed by OCI): the Content-Type decides, else the shape.
  const bare = manifest();
  delete (bare as { mediaType?: string }).mediaType;
  const viaTransport = parseManifestOrIndex(json(bare), 'm', MediaType.DockerManifest);
  assert.equal(viaTransport.kind === 'manifest' && viaTransport.manifest.mediaType, MediaType.DockerManifest);
  const index = parseManifestOrIndex(json({ schemaVersion: 2, manifests: [] }), 'i');
  assert.equal(index.kind, 'index');
});

test('malformed manifests are one clear error', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['not json', /not valid JSON/],
    [[1, 2], /not a JSON object/],
    [manifest({ schemaVersion: 1 }), /unsupported schemaVersion/],
    [
      manifest({ mediaType: 'application/vnd.docker.distribution.manifest.v1+json' }),
      /unsupported media type/,
    ],
    [manifest({ config: undefined }), /config: not an object/],
    [
      manifest({ config: { mediaType: MediaType.OciConfig, digest: 'sha256:abc', size: 1 } }),
      /config: invalid digest/,
    ],
    [manifest({ config: { mediaType: MediaType.OciConfig, digest: D1, size: -1 } }), /invalid size -1/],
    [manifest({ config: { mediaType: MediaType.OciConfig, digest: D1, size: 1.5 } }), /invalid size 1.5/],
    [manifest({ config: { digest: D1, size: 1 } }), /missing mediaType/],
    [manifest({ layers: 'x' }), /manifest without layers/],
    [manifest({ layers: [{ mediaType: MediaType.OciLayerZstd, digest: D2, size: 1 }] }), /zstd-compressed/],
    [
      manifest({ layers: [{ mediaType: 'text/plain', digest: D2, size: 1 }] }),
      /unsupported media type text\/plain/,
    ],
    [
      { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ digest: D1 }] },
      /manifests\[0\]: missing mediaType/,
    ],
    [
      {
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [{ mediaType: MediaType.OciManifest, digest: D1, size: 1, platform: { os: 'linux' } }],
      },
      /platform: needs os and architecture/,
    ],
  ];
  for (const [doc, why] of cases) {
    const bytes = typeof doc === 'string' ? Buffer.from(doc) : json(doc);
    assert.throws(
      () => parseManifestOrIndex(bytes, 'doc'),
      (err: unknown) => {
        assert.ok(err instanceof BadDocumentError, String(err));
        assert.match(err.message, /^doc/);
        assert.match(err.message, why);
        return true;
      },
    );
  }
});

test('image configs: one diff ID per layer, lists of strings where Docker has them', () => {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [D1] },
    config: { Env: ['A=1'] },
  };
  assert.deepEqual(parseImageConfig(json(config), 'c', 1).rootfs.diff_ids, [D1]);
  const cases: Array<[unknown, number | undefined, RegExp]> = [
    [{ ...config, os: undefined }, 1, /needs os and architecture/],
    [{ ...config, rootfs: { type: 'layers' } }, 1, /rootfs.diff_ids/],
    [{ ...config, rootfs: { type: 'layers', diff_ids: ['nope'] } }, 1, /diff_ids\[0\]: invalid digest/],
    [config, 2, /has 1 diff IDs for 2 layers/],
    [{ ...config, config: { Env: 'A=1' } }, 1, /config.Env is not a list of strings/],
    [{ ...config, config: { Cmd: [1] } }, 1, /config.Cmd is not a list of strings/],
    [{ ...config, config: 'x' }, 1, /config is not an object/],
  ];
  for (const [doc, layers, why] of cases) assert.throws(() => parseImageConfig(json(doc), 'c', layers), why);
});

test('the platform is chosen from an index as containerd does', () => {
  const entry = (digest: string, architecture: string, variant?: string) => ({
    mediaType: MediaType.OciManifest,
    digest,
    size: 1,
    platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
  });
  const A = (n: number) => 'sha256:' + String(n).repeat(64);
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      { mediaType: MediaType.OciManifest, digest: A(9), size: 1 }, // no platform (an attestation)
      entry(A(1), 'arm', 'v6'),
      entry(A(2), 'arm', 'v7'),
      entry(A(3), 'arm64', 'v8'),
      entry(A(4), 'amd64'),
    ],
  };
  const cases: Array<[Record<string, string>, string | RegExp]> = [
    [{ os: 'linux', architecture: 'amd64' }, A(4)],
    [{ os: 'linux', architecture: 'arm64' }, A(3)], // arm64 means arm64/v8
    [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, A(3)],
    [{ os: 'linux', architecture: 'arm', variant: 'v7' }, A(2)],
    [{ os: 'linux', architecture: 'arm' }, A(1)],
    [{ os: 'linux', architecture: 'arm', variant: 'v5' }, /no matching manifest for linux\/arm\/v5/],
    [{ os: 'windows', architecture: 'amd64' }, /no matching manifest for windows\/amd64/],
  ];
  for (const [want, expect] of cases) {
    if (typeof expect === 'string') {
      assert.equal(
        choosePlatformManifest(
          index,
          {
            os: want.os,
            architecture: want.architecture,
            ...(want.variant ? { variant: want.variant } : {}),
          },
          'img',
        ).digest,
        expect,
      );
    } else {
      assert.throws(
        () =>
          choosePlatformManifest(
            index,
            {
              os: want.os,
              architecture: want.architecture,
              ...(want.variant ? { variant: want.variant } : {}),
            },
            'img',
          ),
        expect,
      );
    }
  }
  assert.equal(hostPlatform().os, 'linux');
});

test('digests: checked shape, and a stream that brings more than promised is cut off', async () => {
  assert.equal(checkDigest(D1, 'x'), D1);
  assert.throws(() => checkDigest('sha256:XYZ', 'blob'), /blob: invalid digest/);
  assert.equal(sha256Digest(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  const hasher = new DigestingStream('blob b', 10);
  await assert.rejects(
    pipeline(Readable.from([Buffer.alloc(8), Buffer.alloc(8)]), hasher, async function* (source) {
      for await (const _ of source) yield _;
    }),
    (err: unknown) => {
      assert.ok(err instanceof SizeMismatchError);
      assert.match(err.message, /blob b: size mismatch: expected 10 bytes, got more than 10/);
      return true;
    },
  );
  assert.equal(hasher.bytes, 16);
});
