// The daemon's rules for services on images, as tables: which reference is resolved, the pinned form,
// which credentials go where, a pull failure as the task's error; and --with-registry-auth taking this
// node's real login store (a file in a temporary data root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { services } from '../api/rpc.js';
import type { CreateServiceRequest__Output } from '../api/gen/swarmlite/control/v1/CreateServiceRequest.js';
import { ImageService } from '../worker/images/images.js';
import { parseReference } from '../worker/images/reference.js';
import { RegistryError } from '../worker/images/registry/errors.js';
import {
  attachRegistryAuth,
  credentialsFor,
  digestWarning,
  pinnedImage,
  pullFailure,
  referenceToResolve,
  registryOf,
} from './service-images.js';

const D = `sha256:${'c'.repeat(64)}`;

test('which images a manager asks its registry about, and how the answer is written', () => {
  const cases: [string, string | undefined][] = [
    // image as sent → pinned form (undefined: not resolved, kept as sent)
    ['busybox', `busybox:latest@${D}`],
    ['busybox:1.36', `busybox:1.36@${D}`],
    ['library/busybox:1.36', `busybox:1.36@${D}`],
    ['docker.io/team/app', `team/app:latest@${D}`],
    ['198.18.0.5:5000/app:v1', `198.18.0.5:5000/app:v1@${D}`],
    ['localhost:5000/a/b:c', `localhost:5000/a/b:c@${D}`],
    ['host', undefined], // the built-in image has no registry
    [`busybox@${D}`, undefined], // pinned already
    [`busybox:1.36@${D}`, undefined],
    ['Not A Reference', undefined], // the control API refuses it itself
  ];
  for (const [image, pinned] of cases) {
    const ref = referenceToResolve(image);
    assert.equal(ref && pinnedImage(ref, D), pinned, image);
  }
  assert.equal(
    digestWarning('app:1'),
    'image app:1 could not be accessed on a registry to record its digest. Each node will access app:1 ' +
      'independently, possibly leading to different nodes running different versions of the image.',
  );
});

test("a service's credentials go to its image's registry only", () => {
  const auth = { registry: '198.18.0.5:5000', username: 'u', password: 'p' };
  assert.deepEqual(credentialsFor(parseReference('198.18.0.5:5000/app'), auth), {
    username: 'u',
    password: 'p',
  });
  assert.equal(credentialsFor(parseReference('198.18.0.6:5000/app'), auth), undefined);
  assert.equal(credentialsFor(parseReference('app'), auth), undefined);
  assert.equal(credentialsFor(parseReference('198.18.0.5:5000/app'), undefined), undefined);
  assert.equal(registryOf('busybox'), 'docker.io');
  assert.equal(registryOf('198.18.0.5:5000/app:1'), '198.18.0.5:5000');
  assert.equal(registryOf('host'), undefined);
  assert.equal(registryOf('UPPER'), undefined);
});

test("a pull failure is the task's error: 404 is Docker's No such image, the rest as the registry says", () => {
  const cases: [unknown, string][] = [
    [
      new RegistryError('manifest for app:nope not found: manifest unknown', 404, 'MANIFEST_UNKNOWN'),
      'No such image: app:nope',
    ],
    [new RegistryError('pull access denied for app', 404, 'NAME_UNKNOWN'), 'No such image: app:nope'],
    [
      new RegistryError('unauthorized: authentication required', 401, 'UNAUTHORIZED'),
      'unauthorized: authentication required',
    ],
    [
      new RegistryError('denied: requested access to the resource is denied', 403),
      'denied: requested access to the resource is denied',
    ],
    [new Error('connect ECONNREFUSED 198.18.0.5:5000'), 'connect ECONNREFUSED 198.18.0.5:5000'],
  ];
  for (const [err, message] of cases) assert.equal(pullFailure('app:nope', err).message, message);
});

test("--with-registry-auth puts this node's login for the image's registry into the spec, only when asked", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-svcimg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const images = await ImageService.open({ dataRoot: dir });
  await images.credentials.set('198.18.0.5:5000', { username: 'ci', password: 'pw' });
  // The request as the local API decodes it from the CLI.
  const create = services.local().service.CreateService!;
  const req = (image: string, withRegistryAuth: boolean) =>
    create.requestDeserialize(
      create.requestSerialize({
        spec: { name: 'web', task: { image } },
        resolveImage: true,
        withRegistryAuth,
      }),
    ) as CreateServiceRequest__Output;
  const sent = await attachRegistryAuth(images, req('198.18.0.5:5000/app:1', true));
  assert.equal(sent.spec?.task?.image, '198.18.0.5:5000/app:1');
  assert.deepEqual(sent.spec?.task?.registryAuth, {
    registry: '198.18.0.5:5000',
    username: 'ci',
    password: 'pw',
  });
  // Not asked, another registry (no login), the built-in image: the request goes on as it came.
  for (const r of [
    req('198.18.0.5:5000/app:1', false),
    req('198.18.0.6:5000/app', true),
    req('host', true),
  ]) {
    assert.equal(await attachRegistryAuth(images, r), r);
  }
});
