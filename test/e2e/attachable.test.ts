// Attachable overlays on a 2-host lab (node1 manager, node2 worker): `run --network` on the WORKER
// joins an overlay made `--attachable`; the container gets its address from the managers' allocator,
// reaches the service's VIP and its tasks by name (the swarm's records in its embedded DNS), a task
// on the other node reaches the container by name (its record gossiped on the overlay), `rm` gives
// the address back (the next container gets it), and a non-attachable overlay is refused, leaving
// nothing behind. Busybox containers from a loaded image; the lab goes also when the test fails.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LabHostState } from '../../deploy/lab/state.js';
import type { Service } from '../../api/objects/index.js';
import { dockerSaveTar } from '../../worker/images/test-images.js';
import { busyboxTestImage } from '../../cli/test-cli.js';
import { createTestLab, isRoot, psJson, running, swl, waitFor } from './harness.js';

const IMAGE = 'busybox:attach';
const APPLETS = ['sh', 'sleep', 'nc', 'printf', 'nslookup', 'httpd', 'cat'];

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

test('attachable overlays: run --network on a worker', { skip: !isRoot && 'needs root' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swarmlite-attach-e2e-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lab = await createTestLab(t, 2, 1);
  const [n1, n2] = lab.hosts as [LabHostState, LabHostState];
  writeFileSync(join(dir, 'image.tar'), await dockerSaveTar(await busyboxTestImage(APPLETS), [IMAGE]));
  await swl(n2, ['image', 'load', '-q', '-i', join(dir, 'image.tar')]);

  await swl(n1, ['network', 'create', '-d', 'overlay', '--attachable', 'app']);
  await swl(n1, ['network', 'create', '-d', 'overlay', 'plain']);
  const onManager = ['--constraint', 'node.role==manager'];
  await swl(n1, [
    'service',
    'create',
    '-d',
    '--name',
    'web',
    '--network',
    'app',
    ...onManager,
    'host',
    'swarmlite',
    'whoami',
    '--port',
    '80',
  ]);
  await swl(n1, [
    'service',
    'create',
    '-d',
    '--name',
    'cli',
    '--network',
    'app',
    ...onManager,
    'host',
    'sleep',
    'infinity',
  ]);
  for (const svc of ['web', 'cli'])
    await waitFor(`${svc} running`, 90_000, async () =>
      running(await psJson(n1, svc)).length === 1 ? true : undefined,
    );
  const [webTask] = running(await psJson(n1, 'web'));
  assert.equal(webTask!.nodeId, running(await psJson(n1, 'cli'))[0]!.nodeId, 'both tasks on node1');

  const runOn = (h: LabHostState, name: string, net: string, code = 0, ...cmd: string[]) =>
    swl(
      h,
      ['run', '-d', '--name', name, '--network', net, IMAGE, ...(cmd.length ? cmd : ['sleep', '3600'])],
      code,
    );

  await t.test('a non-attachable overlay is refused, nothing is left', async () => {
    const r = await runOn(n2, 'bad', 'plain', 1);
    assert.match(r.stderr, /network plain is not manually attachable/);
    const ps = (await swl(n2, ['ps', '-a', '--format', '{{.Name}}'])).stdout;
    assert.doesNotMatch(ps, /\bbad\b/);
  });

  let ctrIp = '';
  await t.test('the container gets an address of the overlay from the managers', async () => {
    await runOn(n2, 'ctr', 'app', 0, 'httpd', '-f', '-p', '8080', '-h', '/etc');
    ctrIp = (await addressOf(n2, 'ctr')) ?? '';
    const [app] = JSON.parse((await swl(n1, ['network', 'inspect', 'app'])).stdout) as {
      ipam: { subnet: string }[];
    }[];
    const prefix = app!.ipam[0]!.subnet.split('.').slice(0, 3).join('.');
    assert.ok(ctrIp.startsWith(`${prefix}.`), `${ctrIp} in ${app!.ipam[0]!.subnet}`);
    const taskIps = [webTask!, ...running(await psJson(n1, 'cli'))].map((x) => x.networks[0]?.addresses[0]);
    assert.ok(!taskIps.some((a) => a?.startsWith(`${ctrIp}/`)), 'not an address a task holds');
  });

  await t.test("the container reaches the service's VIP and its tasks by name", async () => {
    // busybox is static glibc, whose name lookups crash without NSS (its wget even on an address):
    // names through nslookup (real DNS packets to 127.0.0.11), then an HTTP request by nc.
    const vip = (
      JSON.parse((await swl(n1, ['service', 'inspect', 'web'])).stdout) as Service[]
    )[0]!.endpoint.virtualIps[0]!.addr.split('/')[0]!;
    const taskIp = webTask!.networks[0]!.addresses[0]!.split('/')[0]!;
    let last = '';
    const resolvesTo = (name: string, want: string) =>
      waitFor(`${name} → ${want}`, 60_000, async () => {
        last = (await swl(n2, ['exec', 'ctr', 'sh', '-c', `nslookup ${name} 2>&1; true`])).stdout;
        const answers = last
          .split(/^Name:/m)
          .slice(1)
          .join('');
        return answers.split(/\s+/).includes(want) ? true : undefined;
      }).catch((err: Error) => assert.fail(`${err.message}; last answer: ${last}`));
    const reaches = (ip: string) =>
      waitFor(`http://${ip}/`, 60_000, async () => {
        last = (
          await swl(n2, [
            'exec',
            'ctr',
            'sh',
            '-c',
            `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${ip} 80 2>&1; true`,
          ])
        ).stdout;
        return /^Hostname: /m.test(last) ? true : undefined;
      }).catch((err: Error) => assert.fail(`${err.message}; last answer: ${last}`));
    await resolvesTo('web', vip);
    await reaches(vip);
    await resolvesTo('tasks.web', taskIp);
    await reaches(taskIp);
  });

  await t.test('a task on the other node reaches the container by name', async () => {
    const body = await waitFor('ctr from the cli task', 60_000, async () => {
      const r = await swl(n1, ['exec', 'cli.1', '--', 'node', '-e', FETCH, 'http://ctr:8080/passwd']);
      return r.stdout.includes('root:x:0:0') ? r.stdout : undefined;
    });
    assert.match(body, /^root:x:0:0:/m);
  });

  await t.test('rm gives the address back: the next container gets it', async () => {
    await swl(n2, ['rm', '-f', 'ctr']);
    await runOn(n2, 'ctr2', 'app');
    assert.equal(await addressOf(n2, 'ctr2'), ctrIp);
    await swl(n2, ['rm', '-f', 'ctr2']);
  });
});
