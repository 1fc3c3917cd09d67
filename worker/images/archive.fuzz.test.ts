// Issue 18's fuzzing of the image decoders (bounded for CI, seeded so a failure replays by its round):
// `image load` archives, damaged byte by byte and rebuilt with damaged JSON documents, and the
// manifest, index and config parsers fed damaged documents. What each must do: load, or refuse with a
// user error (BadArchiveError, BadDocumentError, DigestMismatchError, HostileLayerError: all
// UserErrors), never throw anything else, and leave no spooled file behind. A load that succeeds on a
// damaged archive must still hold only blobs whose bytes match their digests.
//   SWARMLITE_FUZZ_ROUNDS=100000 node test/run.js fuzz   (longer runs: a thirtieth of that per archive form)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { UserError } from '../../lib/errors.js';
import { FUZZ_ROUNDS, mutate, prng } from '../../lib/fuzz.js';
import { ImageService } from './images.js';
import { parseImageConfig, parseManifestOrIndex } from './manifest.js';
import { dockerSaveTar, imageOf, layerOf, makeTar, ociLayoutTar, type TestImage } from './test-images.js';

/** Archive loads hash, spool and unpack: fewer rounds than the pure decoders get. */
const ROUNDS = Math.max(30, Math.round(FUZZ_ROUNDS / 30));

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

const ODD_VALUES: readonly unknown[] = [
  null,
  0,
  -1,
  1e300,
  '',
  'sha256:zz',
  '../../etc/passwd',
  '/abs',
  [],
  {},
  [null],
  { digest: 'sha256:' + '0'.repeat(64) },
  true,
];

/** A JSON document with one value, anywhere in it, replaced by an odd one or removed. */
function mutateJson(doc: unknown, rand: () => number): unknown {
  const copy = JSON.parse(JSON.stringify(doc)) as unknown;
  const slots: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      slots.push({ parent: node as Record<string, unknown>, key: Array.isArray(node) ? Number(k) : k });
      walk(v);
    }
  };
  walk(copy);
  if (slots.length === 0) return pick(rand, ODD_VALUES);
  const { parent, key } = pick(rand, slots);
  if (rand() < 0.2 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
  else (parent as Record<string | number, unknown>)[key] = pick(rand, ODD_VALUES);
  return copy;
}

let base: string;
let image: TestImage;
let svc: ImageService;
let root: string;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'swlt-img-fuzz-'));
  // A small image (two tiny layers, one gzipped) keeps a round to a few ms.
  const lower = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/motd', body: 'welcome\n' },
    { name: 'bin/', type: 'directory' },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
  ]);
  const upper = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.motd' },
    { name: 'etc/greeting', body: 'hello\n' },
  ]);
  image = imageOf([layerOf(lower, true), layerOf(upper, false)], { Cmd: ['cat', '/etc/greeting'] });
  root = join(base, 'node');
  svc = await ImageService.open({ dataRoot: root });
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Loads an archive; a refusal must be a UserError. Returns whether it loaded. */
async function loadOrRefuse(archive: Buffer, round: string): Promise<boolean> {
  try {
    await svc.load(Readable.from([archive]));
    return true;
  } catch (err) {
    if (!(err instanceof UserError)) {
      assert.fail(`${round}: ${(err as Error).stack ?? String(err)}\narchive: ${archive.toString('base64')}`);
    }
    return false;
  }
}

/** Nothing spooled is left, and every stored blob's bytes match the digest it is stored under. */
async function assertStoreSound(round: string): Promise<void> {
  assert.deepEqual(await readdir(join(root, 'images', 'tmp')), [], `${round}: spooled files left`);
  const blobs = join(root, 'images', 'blobs', 'sha256');
  for (const hex of await readdir(blobs)) {
    const actual = createHash('sha256')
      .update(await readFile(join(blobs, hex)))
      .digest('hex');
    assert.equal(actual, hex, `${round}: blob stored under a digest its bytes do not have`);
  }
}

async function images(): Promise<Array<{ name: string; archive: Buffer }>> {
  return [
    { name: 'docker save', archive: await dockerSaveTar(image, ['fuzz:save']) },
    { name: 'OCI layout', archive: await ociLayoutTar(image, 'docker.io/library/fuzz:oci') },
  ];
}

test('image archives damaged byte by byte load or refuse with a user error, leaving the store sound', async () => {
  const rand = prng(18);
  for (const { name, archive } of await images()) {
    assert.equal(await loadOrRefuse(archive, `${name} intact`), true, `${name}: the intact archive loads`);
    let refused = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const round = `${name} round ${i}`;
      if (!(await loadOrRefuse(mutate(archive, rand), round))) refused++;
      await assertStoreSound(round);
    }
    // Most damage lands in a checksummed tar header or a hashed blob: a fuzzer that never reaches a
    // refusal is not exercising the decoder.
    assert.ok(refused > ROUNDS / 10, `${name}: only ${refused} of ${ROUNDS} damaged archives refused`);
  }
});

test('archives rebuilt with damaged manifest.json, index.json and configs load or refuse with a user error', async () => {
  const rand = prng(1818);
  const configName = `${image.configDescriptor.digest.slice(7)}.json`;
  const saveManifest = [
    { Config: configName, RepoTags: ['fuzz:json'], Layers: ['l0/layer.tar', 'l1/layer.tar'] },
  ];
  const { gunzipSync } = await import('node:zlib');
  const layerTars = image.layers.map((l, i) => (i === 0 ? gunzipSync(l.blob) : l.blob));
  const index = { schemaVersion: 2, manifests: [{ ...image.manifestDescriptor }] };
  let refused = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const round = `json round ${i}`;
    const archive =
      i % 2 === 0
        ? await makeTar([
            { name: 'manifest.json', body: JSON.stringify(mutateJson(saveManifest, rand)) },
            // The config is named by its digest; a damaged one must be refused, not believed.
            {
              name: configName,
              body:
                rand() < 0.5
                  ? image.config
                  : JSON.stringify(mutateJson(JSON.parse(image.config.toString()), rand)),
            },
            { name: 'l0/layer.tar', body: layerTars[0]! },
            { name: 'l1/layer.tar', body: layerTars[1]! },
          ])
        : await makeTar([
            { name: 'oci-layout', body: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
            { name: 'index.json', body: JSON.stringify(mutateJson(index, rand)) },
            ...[
              [image.manifestDescriptor.digest, image.manifest] as const,
              [image.configDescriptor.digest, image.config] as const,
              ...image.layers.map((l) => [l.descriptor.digest, l.blob] as const),
            ].map(([digest, body]) => ({ name: `blobs/sha256/${digest.slice(7)}`, body })),
          ]);
    if (!(await loadOrRefuse(archive, round))) refused++;
    await assertStoreSound(round);
  }
  assert.ok(refused > ROUNDS / 10, `only ${refused} of ${ROUNDS} damaged documents refused`);
});

test('manifest, index and config parsers refuse damaged documents with a user error only', () => {
  const rand = prng(180);
  const docs = [
    { what: 'manifest', doc: JSON.parse(image.manifest.toString()) as unknown, parse: parseManifestOrIndex },
    {
      what: 'index',
      doc: { schemaVersion: 2, manifests: [image.manifestDescriptor] } as unknown,
      parse: parseManifestOrIndex,
    },
    {
      what: 'config',
      doc: JSON.parse(image.config.toString()) as unknown,
      parse: (b: Buffer, what: string) => parseImageConfig(b, what, image.layers.length),
    },
  ];
  for (const { what, doc, parse } of docs) {
    const intact = Buffer.from(JSON.stringify(doc));
    parse(intact, what);
    let refused = 0;
    for (let i = 0; i < ROUNDS * 10; i++) {
      const damaged =
        rand() < 0.5 ? mutate(intact, rand) : Buffer.from(JSON.stringify(mutateJson(doc, rand)));
      try {
        parse(damaged, what);
      } catch (err) {
        if (!(err instanceof UserError))
          assert.fail(`${what} round ${i}: ${String(err)}\n${damaged.toString()}`);
        refused++;
      }
    }
    assert.ok(refused > ROUNDS, `${what}: only ${refused} of ${ROUNDS * 10} damaged documents refused`);
  }
});
