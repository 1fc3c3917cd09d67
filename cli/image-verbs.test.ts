// The image verbs end to end: the CLI binary against a real daemon, which talks to real registries
// (Debian's docker-registry in a swlt-img-* namespace: HTTPS with basic auth, and plain HTTP named
// with --insecure-registry). Images are busybox-static builds, as a docker-save tar and an OCI layout
// tar: load → ls → tag → login → push → rm → pull → inspect → save → load → logout → prune. Then the
// local API's statuses, and archives that must be refused with nothing changed. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { daemonClient, localCalls } from '../daemon/client.js';
import { RegistryLab } from '../worker/images/registry/test-registry.js';
import { buildBusyboxImage, dockerSaveTar, ociLayoutTar } from '../worker/images/test-images.js';
import { startTestDaemon } from './test-daemon.js';
import { cli, ok, refused } from './test-cli.js';

const USER = 'swlt';
const PASSWORD = 'pa55-word';

/** Every file under `dir` with its size: a refused command changes none. */
async function tree(dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith('.log')) continue;
    const path = join(entry.parentPath, entry.name);
    out[path.slice(dir.length)] = (await stat(path)).size;
  }
  return out;
}

test('image verbs through the CLI: load, ls, tag, login, push, rm, pull, inspect, save, prune', async (t) => {
  const lab = new RegistryLab();
  t.after(() => lab.destroy());
  await lab.create();
  const tls = await lab.makeTls();
  const secure = await lab.startRegistry('secure', {
    port: 5000,
    tls,
    basicAuth: { user: USER, password: PASSWORD },
  });
  const plain = await lab.startRegistry('plain', { port: 5001 });
  const { dir, socket } = await startTestDaemon(t, 'imgcli', 's.sock', ['--insecure-registry', plain]);
  // Docker's place for a registry's CA, read when the registry is contacted.
  await mkdir(join(dir, 'data', 'certs.d', secure), { recursive: true });
  await writeFile(join(dir, 'data', 'certs.d', secure, 'ca.crt'), tls.caPem);

  const image = await buildBusyboxImage({ env: ['PATH=/bin', 'FROM=cli-test'], marker: 'cli' });
  const dockerTar = join(dir, 'docker.tar');
  const ociTar = join(dir, 'oci.tar');
  await writeFile(dockerTar, await dockerSaveTar(image, ['busybox:cli']));
  await writeFile(ociTar, await ociLayoutTar(image, 'docker.io/library/busybox:oci'));

  // load (both archive shapes) and ls
  assert.equal(await ok(socket, ['image', 'load', '-i', dockerTar]), 'Loaded image: busybox:cli\n');
  assert.equal(await ok(socket, ['image', 'load', '-q', '-i', ociTar]), 'Loaded image: busybox:oci\n');
  const id = (await ok(socket, ['image', 'ls', '-q'])).trim();
  assert.match(id, /^[a-f0-9]{12}$/, 'one image, by both tags');
  const table = await ok(socket, ['images']);
  assert.match(table, /^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\n/);
  assert.match(table, new RegExp(`^busybox +cli +${id} +.+ ago +[0-9.]+[kM]?B$`, 'm'));
  assert.match(table, new RegExp(`^busybox +oci +${id} +.+ ago +[0-9.]+[kM]?B$`, 'm'));
  assert.equal(table.trim().split('\n').length, 3);

  // tag, then push: refused until logged in; the plain registry needs no login
  const secureRef = `${secure}/swlt/bb:v1`;
  const plainRef = `${plain}/bb:v1`;
  await ok(socket, ['image', 'tag', 'busybox:cli', secureRef]);
  await ok(socket, ['image', 'tag', id, plainRef]);
  assert.match(
    await ok(socket, ['image', 'ls', `${secure}/swlt/bb`]),
    new RegExp(`${secure}/swlt/bb +v1 +${id}`),
  );
  await refused(socket, ['image', 'push', secureRef], /unauthorized|authentication required/i);
  const wrong = await cli(socket, ['login', '-u', USER, '--password-stdin', secure], 'wrong\n');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^Error: .*(unauthorized|incorrect username or password)/i);
  assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
  assert.equal(
    await ok(socket, ['login', '-u', USER, '--password-stdin', secure], `${PASSWORD}\n`),
    'Login Succeeded\n',
  );
  const pushed = await ok(socket, ['image', 'push', secureRef]);
  assert.match(pushed, new RegExp(`^The push refers to repository \\[${secure}/swlt/bb\\]\n`));
  assert.match(pushed, /^[a-f0-9]{12}: Pushed$/m, 'a line per layer');
  const digest = /^v1: digest: (sha256:[a-f0-9]{64}) size: \d+$/m.exec(pushed)?.[1];
  assert.ok(digest, pushed);
  assert.ok(pushed.endsWith(`\n${secureRef}\n`), 'the full name last');
  assert.equal(await ok(socket, ['image', 'push', '-q', plainRef]), `${plainRef}\n`);

  // rm every name: the image is gone; pull brings it back with the digest the registry gave
  const removed = await ok(socket, ['rmi', 'busybox:cli', 'busybox:oci', plainRef, secureRef]);
  assert.match(removed, /^Untagged: busybox:cli$/m);
  assert.match(removed, new RegExp(`^Deleted: sha256:${id}`, 'm'));
  assert.equal(await ok(socket, ['image', 'ls', '-q']), '');
  const pulled = await ok(socket, ['image', 'pull', secureRef]);
  assert.match(pulled, /^v1: Pulling from swlt\/bb$/m);
  assert.match(pulled, /^[a-f0-9]{12}: Pull complete$/m);
  assert.match(pulled, new RegExp(`^Digest: ${digest}$`, 'm'));
  assert.match(pulled, new RegExp(`^Status: Downloaded newer image for ${secureRef}$`, 'm'));
  assert.equal((await ok(socket, ['image', 'ls', '-q'])).trim(), id, 'the same image ID');
  assert.equal(await ok(socket, ['image', 'pull', '-q', plainRef]), `${plainRef}\n`);

  // inspect: Docker's document, with the registry's digest
  const [doc] = JSON.parse(await ok(socket, ['image', 'inspect', secureRef])) as {
    Id: string;
    RepoDigests: string[];
    Config: { Env: string[] };
  }[];
  assert.ok(doc!.Id.startsWith(`sha256:${id}`));
  assert.ok(doc!.RepoDigests.includes(`${secure}/swlt/bb@${digest}`), JSON.stringify(doc!.RepoDigests));
  assert.ok(doc!.Config.Env.includes('FROM=cli-test'));

  // save, remove, load the saved file: the same image under the same name
  const saved = join(dir, 'saved.tar');
  await ok(socket, ['image', 'save', '-o', saved, secureRef]);
  await ok(socket, ['rmi', '-f', id]);
  assert.equal(await ok(socket, ['image', 'load', '-i', saved]), `Loaded image: ${secureRef}\n`);
  assert.equal((await ok(socket, ['image', 'ls', '-q'])).trim(), id);

  // logout: the secure registry refuses this node again
  assert.equal(await ok(socket, ['logout', secure]), `Removing login credentials for ${secure}\n`);
  assert.equal(await ok(socket, ['logout', secure]), `Not logged in to ${secure}\n`);
  await refused(socket, ['image', 'pull', `${secure}/swlt/bb:v2`], /unauthorized|authentication required/i);

  // prune -a: nothing left, the space reported
  const pruned = await ok(socket, ['image', 'prune', '-a', '-f']);
  assert.match(pruned, new RegExp(`^deleted: sha256:${id}`, 'm'));
  assert.match(pruned, /^Total reclaimed space: [0-9.]+[kM]B$/m);
  assert.equal(await ok(socket, ['images', '-q']), '');

  // The local API's statuses, as a program using it sees them.
  const client = daemonClient(`unix://${socket}`);
  t.after(() => client.close());
  const calls = localCalls(client);
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (err: grpc.ServiceError) => grpc.status[err.code],
    );
  assert.equal(await codeOf(calls.imageInspect({ reference: 'nosuch' })), 'NOT_FOUND');
  assert.equal(await codeOf(calls.imageTag({ source: 'nosuch', target: 'x' })), 'NOT_FOUND');
  assert.equal(await codeOf(calls.imageRemove({ reference: 'Bad Ref', force: false })), 'INVALID_ARGUMENT');
  const pullCode = (reference: string) =>
    new Promise<string>((resolve) => {
      const s = client.imagePull({ reference });
      s.on('data', () => undefined);
      s.on('error', (err: grpc.ServiceError) => resolve(grpc.status[err.code]));
      s.on('end', () => resolve('ok'));
    });
  assert.equal(await pullCode('bad ref'), 'INVALID_ARGUMENT');
  assert.equal(await pullCode(`${secure}/swlt/bb:v1`), 'UNAUTHENTICATED');
  assert.equal(await pullCode(`${plain}/no/such:v1`), 'NOT_FOUND');
  // An upload that ends before the bytes it announced: refused as truncated.
  const short = await new Promise<grpc.ServiceError | null>((resolve) => {
    const call = client.imageLoad((err) => resolve(err));
    call.write({ data: Buffer.alloc(10), totalSize: 1000 });
    call.end();
  });
  assert.equal(short?.code, grpc.status.INVALID_ARGUMENT);
  assert.match(short.details, /truncated: 10 of 1000 bytes arrived/);

  // Archives refused with one line, nothing stored: garbage, truncated, larger than the disk.
  const before = JSON.stringify(await tree(join(dir, 'data')));
  const garbage = join(dir, 'garbage.tar');
  await writeFile(garbage, Buffer.from('this is not a tar archive, not at all'.repeat(40)));
  await refused(socket, ['image', 'load', '-i', garbage], /^Error: invalid image archive/);
  const cut = join(dir, 'cut.tar');
  const whole = await dockerSaveTar(image, ['busybox:cut']);
  await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
  await refused(socket, ['image', 'load', '-i', cut], /^Error: invalid image archive: .*truncated|corrupt/);
  const huge = join(dir, 'huge.tar');
  await writeFile(huge, '');
  await truncate(huge, 2 ** 43); // sparse: 8 TiB that take no disk
  await refused(
    socket,
    ['image', 'load', '-i', huge],
    /^Error: the image archive has \d+ bytes; the data root .* has only \d+ free/,
  );
  await refused(
    socket,
    ['image', 'save', '-o', join(dir, 'none.tar'), 'nosuch'],
    /^Error: No such image: nosuch/,
  );
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes('none.tar')),
    [],
    'a failed save leaves no file',
  );
  assert.equal(
    JSON.stringify(await tree(join(dir, 'data'))),
    before,
    'a refused archive changed the data root',
  );
  assert.equal(await ok(socket, ['images', '-q']), '');
});
