// A standalone container on an attachable overlay across its node's life, on a 2-host lab (node1
// manager, node2 worker): `network inspect` on node2 lists it by name; node2's daemon restarts and the
// container is on the overlay again with the same address (a task on node1 reaches it by name again);
// `network connect/disconnect` puts a bridge container on the overlay and takes it off; node2 leaves the swarm, its container can still be removed, and once node1 removes node2 the
// managers have given its attachment back (the overlay can be removed: no container holds it).
// Busybox containers from a loaded image; the lab goes also when the test fails.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { labSignal, labStart } from '../../deploy/lab/lab.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import { dockerSaveTar } from '../../worker/images/test-images.js';
import { busyboxTestImage } from '../../cli/test-cli.js';
import { createTestLab, isRoot, psJson, runIn, running, swl, waitFor } from './harness.js';

const IMAGE = 'busybox:attach';
const APPLETS = ['sh', 'sleep', 'httpd'];

/** A task's fetch of a URL (the host image has node): the body, or `error <code>`. */
const FETCH = `
fetch(process.argv[1], { signal: AbortSignal.timeout(5000) }).then(
  async (r) => console.log(await r.text()),
  (e) => console.log('error ' + (e.cause?.code ?? e.name)),
);
`;

const addressOf = async (h: LabHostState, name: string) => {
  const [c] = JSON.parse((await swl(h, ['inspect', name])).stdout) as {
    NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
  }[];
  return Object.values(c!.NetworkSettings.Networks)[0]?.IPAddress;
};

/** `network inspect` of an overlay on a node: the containers it lists, by name → address. */
const listedOn = async (h: LabHostState, network: string) => {
  const [n] = JSON.parse((await swl(h, ['network', 'inspect', network])).stdout) as {
    containers: Record<string, { name: string; ipv4Address: string }>;
  }[];
  return Object.fromEntries(Object.values(n!.containers).map((c) => [c.name, c.ipv4Address]));
};

test(
  'attachable overlays: a container across its node restarting, leaving and being removed',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'swarmlite-attach-life-e2e-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const lab = await createTestLab(t, 2, 1);
    const [n1, n2] = lab.hosts as [LabHostState, LabHostState];
    writeFileSync(join(dir, 'image.tar'), await dockerSaveTar(await busyboxTestImage(APPLETS), [IMAGE]));
    await swl(n2, ['image', 'load', '-q', '-i', join(dir, 'image.tar')]);

    await swl(n1, ['network', 'create', '-d', 'overlay', '--attachable', 'app']);
    await swl(n1, [
      'service',
      'create',
      '-d',
      '--name',
      'cli',
      '--network',
      'app',
      '--constraint',
      'node.role==manager',
      'host',
      'sleep',
      'infinity',
    ]);
    await waitFor('cli running', 90_000, async () =>
      running(await psJson(n1, 'cli')).length === 1 ? true : undefined,
    );
    await swl(n2, ['run', '-d', '--name', 'ctr', '--network', 'app', IMAGE, 'httpd', '-f', '-p', '8080']);
    const ip = (await addressOf(n2, 'ctr')) ?? '';
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);

    let last = '';
    const reachedByName = (what: string) =>
      waitFor(what, 90_000, async () => {
        last = (await swl(n1, ['exec', 'cli.1', '--', 'node', '-e', FETCH, 'http://ctr:8080/'])).stdout;
        // busybox httpd without a home page answers 404: an HTTP answer is what tells it is reached.
        return last.startsWith('error ') ? undefined : true;
      }).catch((err: Error) => assert.fail(`${err.message}; last answer: ${last}`));

    await t.test('a task on the other node reaches the container by name', async () => {
      await reachedByName('ctr from the cli task');
    });

    await t.test("network inspect on the container's node lists it by name", async () => {
      assert.deepEqual(await listedOn(n2, 'app'), { ctr: `${ip}/24` });
    });

    await t.test(
      'after its daemon restarts the container is on the overlay again, same address',
      async () => {
        // node2's daemon comes back while the manager is away, so its replay of the container's
        // overlay cannot reach the managers at start (a restart alone may find the session up in time);
        // the manager's restart also forgets node2's gossip: only a new announcement makes ctr a name.
        await labSignal(lab.name, n1.hostname, 'SIGTERM');
        await labSignal(lab.name, n2.hostname, 'SIGTERM');
        await labStart(lab.name, n2.hostname);
        await labStart(lab.name, n1.hostname);
        await reachedByName('ctr from the cli task after the restart');
        assert.equal(await addressOf(n2, 'ctr'), ip);
        assert.deepEqual(await listedOn(n2, 'app'), { ctr: `${ip}/24` });
        const ps = (await swl(n2, ['ps', '--format', '{{.Name}} {{.State.Status}}'])).stdout;
        assert.match(ps, /^\/?ctr running$/m);
      },
    );

    await t.test('network connect and disconnect a bridge container to the overlay', async () => {
      await swl(n2, ['run', '-d', '--name', 'two', IMAGE, 'httpd', '-f', '-p', '8080']);
      await swl(n2, ['network', 'connect', 'app', 'two']);
      const [c] = JSON.parse((await swl(n2, ['inspect', 'two'])).stdout) as {
        NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
      }[];
      const twoIp = c!.NetworkSettings.Networks.app?.IPAddress ?? '';
      assert.ok(c!.NetworkSettings.Networks.bridge, 'still on its bridge');
      assert.equal(twoIp.split('.').slice(0, 3).join('.'), ip.split('.').slice(0, 3).join('.'));
      assert.deepEqual(await listedOn(n2, 'app'), { ctr: `${ip}/24`, two: `${twoIp}/24` });
      const again = await swl(n2, ['network', 'connect', 'app', 'two'], 1);
      assert.match(again.stderr, /already connected to network app/);
      const rows = (await swl(n2, ['network', 'ls'])).stdout
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).slice(1).join(' '));
      assert.ok(
        rows.includes('app overlay swarm'),
        `the worker lists its containers' overlay: ${rows.join(', ')}`,
      );
      await waitFor('two from the cli task', 90_000, async () => {
        const r = await swl(n1, ['exec', 'cli.1', '--', 'node', '-e', FETCH, 'http://two:8080/']);
        return r.stdout.startsWith('error ') ? undefined : true;
      });

      await swl(n2, ['network', 'disconnect', 'app', 'two']);
      assert.deepEqual(await listedOn(n2, 'app'), { ctr: `${ip}/24` });
      const [after] = JSON.parse((await swl(n2, ['inspect', 'two'])).stdout) as {
        NetworkSettings: { Networks: Record<string, unknown> };
      }[];
      assert.deepEqual(Object.keys(after!.NetworkSettings.Networks), ['bridge']);
      await swl(n2, ['rm', '-f', 'two']);
    });

    await t.test('its node leaves and is removed: the managers give its attachment back', async () => {
      const [{ Id: id }] = JSON.parse((await swl(n2, ['inspect', 'ctr'])).stdout) as [{ Id: string }];
      await swl(n2, ['leave']);
      // The container outlives the swarm (as in Docker) and can still be removed.
      await swl(n2, ['rm', '-f', 'ctr']);
      await swl(n1, ['service', 'rm', 'cli']);
      const removeApp = () => runIn(n1, ['swarmlite', 'network', 'rm', 'app']);
      const refusal = await removeApp();
      assert.equal(refusal.code, 1, 'the departed node still holds an address on app');
      assert.match(refusal.stderr, new RegExp(id.slice(0, 12)));
      await waitFor('node2 down', 60_000, async () => {
        const [n] = JSON.parse((await swl(n1, ['node', 'inspect', 'node2'])).stdout) as {
          status: { state: string };
        }[];
        return n!.status.state === 'down' ? true : undefined;
      });
      await swl(n1, ['node', 'rm', 'node2']);
      let last = '';
      await waitFor('app removed', 60_000, async () => {
        const r = await removeApp();
        last = r.stderr;
        return r.code === 0 ? true : undefined;
      }).catch((err: Error) => assert.fail(`${err.message}; last refusal: ${last}`));
    });
  },
);
