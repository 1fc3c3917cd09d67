// The registry client against real registries (Debian's docker-registry) in a namespace this test
// creates: HTTPS with basic auth (htpasswd), plain HTTP marked insecure, token auth with a Docker-style
// token server, and proxies that corrupt blobs or manifests. Images built from busybox-static are
// pushed, then pulled into fresh node stores and checked. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DigestMismatchError, sha256Digest } from '../digest.js';
import { ImageService, type ImageServiceOptions } from '../images.js';
import { MediaType } from '../manifest.js';
import type { ProgressEvent } from '../pull.js';
import { buildBusyboxImage, dockerSaveTar, ociLayoutTar, type TestImage } from '../test-images.js';
import { RegistryClient } from './client.js';
import { RegistryError } from './errors.js';
import { RegistryLab } from './test-registry.js';

const lab = new RegistryLab();
const USER = { username: 'swlt', password: 'pa55-word' };
let base: string;
let image: TestImage;
let secure = ''; // HTTPS + basic auth
let plain = ''; // HTTP, no auth, insecure
let tokenReg = ''; // HTTP + token auth, insecure
let badBlobs = ''; // proxy corrupting blobs of `plain`
let badManifests = ''; // proxy corrupting manifests of `plain`
let nodes = 0;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'swlt-img-reg-'));
  image = await buildBusyboxImage({ env: ['PATH=/bin', 'FROM=registry'] });
  try {
    await lab.create();
    const tls = await lab.makeTls();
    await mkdir(join(base, 'certs.d', `${lab.address}:5000`), { recursive: true });
    await writeFile(join(base, 'certs.d', `${lab.address}:5000`, 'ca.crt'), tls.caPem);
    const tokenKeys = await lab.makeTokenKeys();
    secure = await lab.startRegistry('secure', {
      port: 5000,
      tls,
      basicAuth: { user: USER.username, password: USER.password },
    });
    plain = await lab.startRegistry('plain', { port: 5001 });
    await lab.startHelper([
      'token',
      `${lab.address}:5002`,
      'swlt-issuer',
      'swlt-service',
      USER.username,
      USER.password,
      tokenKeys.keyFile,
      tokenKeys.certFile,
    ]);
    tokenReg = await lab.startRegistry('token', {
      port: 5003,
      tokenAuth: {
        realm: `http://${lab.address}:5002/token`,
        service: 'swlt-service',
        issuer: 'swlt-issuer',
        certFile: tokenKeys.certFile,
      },
    });
    await lab.startHelper(['corrupt', `${lab.address}:5004`, `http://${plain}`, 'blob']);
    await lab.startHelper(['corrupt', `${lab.address}:5005`, `http://${plain}`, 'manifest']);
    badBlobs = `${lab.address}:5004`;
    badManifests = `${lab.address}:5005`;
  } catch (err) {
    await lab.destroy();
    throw err;
  }
});

after(async () => {
  await lab.destroy();
  await rm(base, { recursive: true, force: true });
});

async function node(extra: Partial<ImageServiceOptions> = {}): Promise<ImageService> {
  const dataRoot = join(base, `node${nodes++}`);
  await mkdir(dataRoot);
  return ImageService.open({
    dataRoot,
    insecureRegistries: [plain, tokenReg, badBlobs, badManifests],
    certsDir: join(base, 'certs.d'),
    ...extra,
  });
}

/** The pulled image runs as built: layers in order, the whiteout and opaque folder applied. */
async function assertPulledImage(svc: ImageService, ref: string): Promise<void> {
  const info = await svc.inspect(ref);
  assert.equal(info.Id, image.configDescriptor.digest);
  assert.deepEqual(info.Config.Env, ['PATH=/bin', 'FROM=registry']);
  const [top, bottom] = svc.layerDirs(ref);
  assert.ok((await lstat(join(top, 'etc/motd'))).isCharacterDevice());
  assert.equal(await readFile(join(bottom, 'etc/motd'), 'utf8'), 'welcome\n');
  assert.equal((await readFile(join(bottom, 'bin/busybox'))).length, (await readFile('/bin/busybox')).length);
}

test('HTTPS registry with basic auth: login, push, pull on another node; bad logins refused', async () => {
  const pusher = await node();
  await pusher.load(Readable.from([await dockerSaveTar(image, [`${secure}/team/bb:v1`])]));
  // Anonymous: refused with Docker's words.
  await assert.rejects(pusher.push(`${secure}/team/bb:v1`), /unauthorized: authentication required/);
  await assert.rejects(
    pusher.login(secure, { username: USER.username, password: 'wrong' }),
    /unauthorized: incorrect username or password/,
  );
  assert.deepEqual(await pusher.credentials.registries(), [], 'a failed login keeps nothing');
  assert.equal(await pusher.login(`https://${secure}/`, USER), 'Login Succeeded');
  const events: ProgressEvent[] = [];
  const pushed = await pusher.push(`${secure}/team/bb:v1`, { onProgress: (e) => events.push(e) });
  assert.match(pushed.status, /^v1: digest: sha256:[a-f0-9]{64} size: \d+$/);
  assert.ok(events.some((e) => e.status === 'Pushed'));
  // Pushing again: the registry has every blob.
  const again: ProgressEvent[] = [];
  await pusher.push(`${secure}/team/bb:v1`, { onProgress: (e) => again.push(e) });
  assert.equal(again.filter((e) => e.status === 'Layer already exists').length, 3);

  const puller = await node();
  await assert.rejects(puller.pull(`${secure}/team/bb:v1`), /unauthorized: authentication required/);
  const progress: ProgressEvent[] = [];
  const pulled = await puller.pull(`${secure}/team/bb:v1`, {
    auth: USER,
    onProgress: (e) => progress.push(e),
  });
  assert.equal(pulled.digest, pushed.digest);
  assert.equal(pulled.status, `Downloaded newer image for ${secure}/team/bb:v1`);
  // (a docker save carries its layers uncompressed: the pushed blobs are those, not the gzipped ones)
  assert.equal(pulled.image.layers.length, 2);
  for (const layer of pulled.image.layers) {
    const id = layer.digest.slice(7, 19);
    const statuses = progress.filter((e) => e.id === id).map((e) => e.status);
    assert.equal(statuses[0], 'Pulling fs layer');
    assert.ok(statuses.includes('Downloading'));
    assert.equal(statuses.at(-1), 'Pull complete');
  }
  await assertPulledImage(puller, `${secure}/team/bb:v1`);
  assert.deepEqual((await puller.inspect(`${secure}/team/bb:v1`)).RepoDigests, [
    `${secure}/team/bb@${pushed.digest}`,
  ]);
  const second = await puller.pull(`${secure}/team/bb:v1`, { auth: USER });
  assert.equal(second.status, `Image is up to date for ${secure}/team/bb:v1`);

  // Without the registry's CA, HTTPS is refused; a node naming nothing insecure will not use HTTP.
  const untrusting = await node({ certsDir: join(base, 'no-certs') });
  await assert.rejects(untrusting.pull(`${secure}/team/bb:v1`, { auth: USER }), /certificate/);
  const strict = await node({ insecureRegistries: [] });
  await assert.rejects(strict.pull(`${plain}/nothing:1`), /GET https:\/\/.*(EPROTO|wrong version|SSL)/i);
});

test('plain HTTP registry marked insecure: chunked push, mount across repositories, pull by tag and digest', async () => {
  const pusher = await node();
  await pusher.load(Readable.from([await ociLayoutTar(image, `${plain}/one/bb:latest`)]));
  const chunks: ProgressEvent[] = [];
  const pushed = await pusher.push(`${plain}/one/bb`, {
    chunkSize: 256 * 1024,
    onProgress: (e) => chunks.push(e),
  });
  const busyboxLayer = image.layers[0].descriptor.digest.slice(7, 19);
  assert.ok(
    chunks.filter((e) => e.id === busyboxLayer && e.status === 'Pushing').length >= 2,
    'the busybox layer went up in several PATCHes',
  );
  assert.equal(await pusher.resolveDigest(`${plain}/one/bb:latest`), pushed.digest);
  // The same image under another repository of the registry: its blobs are mounted, not sent.
  await pusher.tag(`${plain}/one/bb`, `${plain}/two/bb:x`);
  const events: ProgressEvent[] = [];
  await pusher.push(`${plain}/two/bb:x`, { onProgress: (e) => events.push(e) });
  assert.equal(events.filter((e) => e.status === `Mounted from one/bb`).length, 3);

  const puller = await node();
  const byDigest = await puller.pull(`${plain}/two/bb@${pushed.digest}`);
  assert.equal(byDigest.image.id, image.configDescriptor.digest);
  assert.deepEqual(puller.list()[0].RepoTags, [], 'a pull by digest adds no tag');
  // Two pulls of the same image at once, and a gc between: one unpack per layer, nothing lost.
  const [p1, p2] = await Promise.all([
    puller.pull(`${plain}/one/bb`),
    puller.pull(`${plain}/one/bb`),
    puller.store.gc(),
  ]);
  assert.equal(p1.image.id, p2.image.id);
  await assertPulledImage(puller, `${plain}/one/bb`);
  assert.deepEqual(await readdir(join(puller.store.root, 'tmp')), []);
  await assert.rejects(
    puller.pull(`${plain}/one/bb:nope`),
    /manifest for .*one\/bb:nope not found: manifest unknown/,
  );
  await assert.rejects(puller.resolveDigest(`${plain}/none/here:1`), (err: unknown) => {
    assert.ok(err instanceof RegistryError);
    assert.equal(err.status, 404);
    return true;
  });
});

test('a node holding a layer unpacked from another blob (uncompressed, then gzipped) still pulls the blob', async () => {
  const pusher = await node();
  const other = await buildBusyboxImage({ env: ['PATH=/bin', 'FROM=the-gzipped-one'] });
  // docker-save archives carry layers uncompressed; the OCI layout keeps the base layer gzipped.
  await pusher.load(Readable.from([await dockerSaveTar(image, [`${plain}/blobs/raw:1`])]));
  await pusher.load(Readable.from([await ociLayoutTar(other, `${plain}/blobs/gz:1`)]));
  await pusher.push(`${plain}/blobs/raw:1`);
  await pusher.push(`${plain}/blobs/gz:1`);
  const puller = await node();
  await puller.pull(`${plain}/blobs/raw:1`);
  const events: ProgressEvent[] = [];
  await puller.pull(`${plain}/blobs/gz:1`, { onProgress: (e) => events.push(e) });
  assert.deepEqual((await puller.inspect(`${plain}/blobs/gz:1`)).Config.Env, [
    'PATH=/bin',
    'FROM=the-gzipped-one',
  ]);
  const gzipped = other.layers[0].descriptor.digest.slice(7, 19);
  assert.ok(
    events.some((e) => e.id === gzipped && e.status === 'Download complete'),
    'the gzipped blob came',
  );
  const uncompressed = other.layers[1].descriptor.digest.slice(7, 19);
  assert.ok(
    events.some((e) => e.id === uncompressed && e.status === 'Already exists'),
    'the shared blob did not',
  );
});

test('a registry behind a token server (the Docker Hub flow): anonymous refused, login then push and pull', async () => {
  const pusher = await node();
  await pusher.load(Readable.from([await dockerSaveTar(image, [`${tokenReg}/private/bb:t`])]));
  await assert.rejects(pusher.push(`${tokenReg}/private/bb:t`), /unauthorized: authentication required/);
  await assert.rejects(
    pusher.login(tokenReg, { username: USER.username, password: 'nope' }),
    /incorrect username or password/,
  );
  await pusher.login(tokenReg, USER);
  const pushed = await pusher.push(`${tokenReg}/private/bb:t`);

  const puller = await node();
  await assert.rejects(puller.pull(`${tokenReg}/private/bb:t`), /unauthorized/);
  const pulled = await puller.pull(`${tokenReg}/private/bb:t`, { auth: USER });
  assert.equal(pulled.digest, pushed.digest);
  await assertPulledImage(puller, `${tokenReg}/private/bb:t`);
});

test("a manifest list: the node platform's image is pulled, and the list's digest recorded", async () => {
  const amd = await node();
  await amd.load(Readable.from([await dockerSaveTar(image, [`${plain}/multi/bb:amd64`])]));
  const amdPush = await amd.push(`${plain}/multi/bb:amd64`);
  const arm = await buildBusyboxImage({ marker: 'arm' });
  const armNode = await node();
  await armNode.load(Readable.from([await dockerSaveTar(arm, [`${plain}/multi/bb:arm64`])]));
  const armPush = await armNode.push(`${plain}/multi/bb:arm64`);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        {
          mediaType: MediaType.OciManifest,
          digest: armPush.digest,
          size: armPush.size,
          platform: { os: 'linux', architecture: 'arm64' },
        },
        {
          mediaType: MediaType.OciManifest,
          digest: amdPush.digest,
          size: amdPush.size,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    }),
  );
  const client = new RegistryClient({ domain: plain, insecure: true });
  const indexDigest = await client.putManifest('multi/bb', 'both', index, MediaType.OciIndex);
  assert.equal(indexDigest, sha256Digest(index));

  const puller = await node();
  const pulled = await puller.pull(`${plain}/multi/bb:both`);
  assert.equal(pulled.digest, indexDigest);
  assert.equal(pulled.image.id, image.configDescriptor.digest);
  assert.deepEqual(pulled.image.repoDigests, [`${plain}/multi/bb@${indexDigest}`]);
  const armPuller = await node({ platform: { os: 'linux', architecture: 'arm64' } });
  assert.equal((await armPuller.pull(`${plain}/multi/bb:both`)).image.id, arm.configDescriptor.digest);
  const s390 = await node({ platform: { os: 'linux', architecture: 's390x' } });
  await assert.rejects(s390.pull(`${plain}/multi/bb:both`), /no matching manifest for linux\/s390x/);
});

test('a registry serving a wrong blob or manifest is refused, and nothing is kept', async () => {
  const pusher = await node();
  await pusher.load(Readable.from([await dockerSaveTar(image, [`${plain}/victim/bb:1`])]));
  await pusher.push(`${plain}/victim/bb:1`);

  const victim = await node();
  await assert.rejects(victim.pull(`${badBlobs}/victim/bb:1`), (err: unknown) => {
    assert.ok(err instanceof DigestMismatchError, String(err));
    assert.match(err.message, /^(config|layer) sha256:[a-f0-9]{64}: digest mismatch/);
    return true;
  });
  await assert.rejects(victim.pull(`${badManifests}/victim/bb:1`), (err: unknown) => {
    assert.ok(err instanceof DigestMismatchError, String(err));
    assert.match(err.message, /^manifest victim\/bb@1: digest mismatch/);
    return true;
  });
  assert.deepEqual(victim.list(), []);
  const root = victim.store.root;
  assert.deepEqual(await readdir(join(root, 'tmp')), []);
  assert.deepEqual(await readdir(join(root, 'layers/sha256')), []);
  await victim.store.gc();
  assert.deepEqual(await readdir(join(root, 'blobs/sha256')), []);
});
