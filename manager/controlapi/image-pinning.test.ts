// Digest pinning and registry credentials through the service handlers (requests encoded and decoded
// as a client's are). The resolver here answers from a table, as the daemon's would from a registry;
// daemon/control-plane/image-pinning.test.ts runs the real one against a real registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { defaultTaskSpec, type RegistryAuth } from '../../api/objects/index.js';
import type { ImageResolver } from './service-context.js';
import { addTask, assertRefused, fixture, wireSpec, type Fixture } from './service-test-fixtures.js';
import { redactTaskSpec } from './objects-to-wire.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const NEWER = `sha256:${'b'.repeat(64)}`;
const AUTH: RegistryAuth = { registry: 'reg.example:5000', username: 'ci', password: 's3cret' };

/** A resolver from a table of tag → digest; any other image is a registry that does not answer. */
function tableResolver(digests: Record<string, string>) {
  const asked: { image: string; auth: RegistryAuth | undefined }[] = [];
  const resolve: ImageResolver = async (image, auth) => {
    asked.push({ image, auth });
    const digest = digests[image];
    return digest ? { image: `${image}@${digest}` } : { warning: `image ${image} could not be accessed` };
  };
  return { resolve, asked };
}

const stored = (f: Fixture, name: string) => f.store.view((tx) => tx.find('service', 'name', name)[0]!);

test('service create pins the tag to the digest when asked, keeps it with a warning otherwise', async () => {
  const r = tableResolver({ 'app:1': DIGEST });
  const f = await fixture({ resolveImage: r.resolve });
  const cases: [string, string, boolean, string, string[]][] = [
    // name, image, resolve_image, stored image, warnings
    ['pinned', 'app:1', true, `app:1@${DIGEST}`, []],
    ['unreachable', 'gone:1', true, 'gone:1', ['image gone:1 could not be accessed']],
    ['asked-not', 'app:1', false, 'app:1', []],
    ['builtin', 'host', true, 'host', []],
  ];
  for (const [name, image, resolveImage, image2, warnings] of cases) {
    const res = await f.call('CreateService', {
      spec: wireSpec(name, { task: { image, command: ['true'] } }),
      resolveImage,
    });
    assert.equal(res.service.spec.task.image, image2, name);
    assert.deepEqual(res.warnings, warnings, name);
    assert.equal(stored(f, name).spec.task.image, image2, name);
  }
  // The built-in image and a request that did not ask never reach the registry.
  assert.deepEqual(
    r.asked.map((a) => a.image),
    ['app:1', 'gone:1'],
  );
});

test('service update pins a new image; credentials are kept, used to resolve, and never shown', async () => {
  const r = tableResolver({ 'reg.example:5000/app:2': NEWER });
  const f = await fixture({ resolveImage: r.resolve });
  const created = await f.call('CreateService', {
    spec: wireSpec('web', {
      task: { image: 'reg.example:5000/app:1', command: ['true'], registryAuth: AUTH },
    }),
  });
  // Reads never carry the credentials: create's answer, inspect, task list.
  assert.equal(created.service.spec.task.registryAuth, undefined);
  const inspected = await f.call('GetService', { ref: 'web' });
  assert.equal(JSON.stringify(inspected).includes('s3cret'), false);
  assert.deepEqual(stored(f, 'web').spec.task.registryAuth, AUTH);
  await addTask(f.store, stored(f, 'web'), 'task1', { slot: 1 });
  const tasks = await f.call('ListTasks', {});
  assert.equal(tasks.tasks.length, 1);
  assert.equal(JSON.stringify(tasks).includes('s3cret'), false);
  assert.equal(JSON.stringify(await f.call('GetTask', { ref: 'task1' })).includes('s3cret'), false);

  // The CLI sends back the spec it read (no credentials) with a new image: the service keeps its
  // credentials, and the registry is asked with them.
  const spec = {
    ...inspected.service.spec,
    task: { ...inspected.service.spec.task, image: 'reg.example:5000/app:2' },
  };
  const updated = await f.call('UpdateService', { ref: 'web', spec, resolveImage: true });
  assert.deepEqual(updated.warnings, []);
  const after = stored(f, 'web');
  assert.equal(after.spec.task.image, `reg.example:5000/app:2@${NEWER}`);
  assert.deepEqual(after.spec.task.registryAuth, AUTH);
  assert.deepEqual(r.asked, [{ image: 'reg.example:5000/app:2', auth: AUTH }]);
  assert.equal(JSON.stringify(updated).includes('s3cret'), false);
  const previous = (await f.call('GetService', { ref: 'web' })).service.previousSpec;
  assert.equal(previous.task.registryAuth, undefined);

  // Sent again unchanged: nothing to write (the kept credentials make it equal).
  const again = await f.call('UpdateService', {
    ref: 'web',
    spec: (await f.call('GetService', { ref: 'web' })).service.spec,
  });
  assert.equal(again.service.specVersion, after.specVersion);

  // New credentials replace the old ones.
  const rotated = { ...AUTH, password: 'n3w' };
  const withNew = {
    ...(await f.call('GetService', { ref: 'web' })).service.spec,
  };
  await f.call('UpdateService', {
    ref: 'web',
    spec: { ...withNew, task: { ...withNew.task, registryAuth: rotated } },
  });
  assert.deepEqual(stored(f, 'web').spec.task.registryAuth, rotated);
});

test('bad registry credentials and image references are refused and change nothing', async () => {
  const f = await fixture({ resolveImage: tableResolver({}).resolve });
  const spec = (task: object) => wireSpec('api', { task: { image: 'app:1', ...task } });
  const cases: [object, RegExp][] = [
    [{ registryAuth: { registry: '', username: 'u', password: 'p' } }, /registryAuth.registry: the registry/],
    [{ registryAuth: { registry: 'r:5000', username: '', password: 'p' } }, /registryAuth.username/],
    [{ registryAuth: { registry: 'r:5000', username: 'a:b', password: 'p' } }, /cannot contain ":"/],
    [{ image: 'App:1' }, /invalid image: .*lowercase/],
    [{ image: 'app:1@sha256:xyz' }, /invalid image: .*digest/],
    [{ image: ' app' }, /invalid image: .*whitespace/],
  ];
  for (const [task, message] of cases) {
    await assertRefused(
      f,
      'CreateService',
      { spec: spec(task), resolveImage: true },
      grpc.status.INVALID_ARGUMENT,
      message,
    );
  }
});

test('redactTaskSpec drops the credentials and nothing else', () => {
  const spec = defaultTaskSpec('app:1', ['x']);
  const redacted = redactTaskSpec({ ...spec, registryAuth: AUTH });
  assert.deepEqual(redacted, spec);
  assert.equal('registryAuth' in redacted, false);
});
