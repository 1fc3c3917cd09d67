// The node's image store as the daemon opens it: an image whose layers a task's root is mounted on is
// in use, so `image rm` and `image prune -a` leave it, and it can go once the task's root is gone.
// Needs root (overlayfs, layers keep owners).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { mountRootfs, removeRootfs } from '../worker/exec/oci/rootfs.js';
import { buildBusyboxImage, dockerSaveTar } from '../worker/images/test-images.js';
import { openNodeImages } from './images.js';
import { DAEMON_DEFAULTS } from './options.js';

test("an image a task's mounted root uses is not removed or pruned; once unmounted it is", async (t) => {
  const dataRoot = await mkdtemp(join(tmpdir(), 'swlt-node-images-'));
  const taskDir = join(dataRoot, 'tasks', 't1');
  t.after(async () => {
    await removeRootfs(taskDir);
    await rm(dataRoot, { recursive: true, force: true });
  });
  const images = await openNodeImages({ ...DAEMON_DEFAULTS, dataRoot });
  const tar = await dockerSaveTar(await buildBusyboxImage(), ['busybox:latest']);
  const [loaded] = await images.load(Readable.from([tar]));
  assert.ok(loaded);

  await mountRootfs(taskDir, images.layerDirs('busybox:latest'));
  await assert.rejects(images.remove('busybox:latest'), /container is using its referenced image/);
  assert.deepEqual((await images.prune({ all: true })).deleted, []);
  // Forced: the name goes, the image stays for the task that runs it (Docker's behaviour).
  assert.deepEqual(await images.remove('busybox:latest', { force: true }), [{ Untagged: 'busybox:latest' }]);
  await assert.rejects(images.remove(loaded.id), /image is being used by a container/);

  await removeRootfs(taskDir);
  const removed = await images.remove(loaded.id);
  assert.ok(removed.some((e) => 'Deleted' in e && e.Deleted === loaded.id));
  assert.deepEqual(images.list({}), []);
});
