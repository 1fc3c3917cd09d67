// Services on real images, on a 3-host lab with two registries of its own (Debian's docker-registry in
// the lab's registry namespace): one over HTTPS with the lab's CA and htpasswd basic auth, one over plain
// HTTP that the daemons are told is insecure. The test builds two images from the busybox-static package
// (a second layer deletes a file and replaces a folder: whiteouts; their env differs), loads them on
// node1 from a docker-save tar and from an OCI layout tar, pushes them (to the private registry only
// after `login`), then runs services on them: every node pulls, each task runs the image's entrypoint
// with its env, the routing mesh, the embedded DNS and the overlay work as they do for the built-in
// image, and a node without the credentials (no --with-registry-auth) fails its task with unauthorized.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { LabRegistryState } from '../../deploy/lab/registry.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import type { Network, Service, Task } from '../../api/objects/index.js';
import {
  dockerSaveTar,
  imageOf,
  layerOf,
  makeTar,
  ociLayoutTar,
  type TestImage,
} from '../../worker/images/test-images.js';
import { createTestLab, ipOn, isRoot, psJson, runIn, running, swl, waitFor } from './harness.js';

const GREETING = 'from-the-image-config';
/** The plain registry's image differs (its env), so nodes holding the first one must still pull it. */
const PLAIN_GREETING = 'from-the-oci-layout';
const APPLETS = ['sh', 'hostname', 'httpd', 'nslookup', 'wget', 'timeout', 'cat', 'ls', 'test', 'echo'];

/** The page every task serves (busybox httpd runs /cgi-bin/index.cgi for `/`): who answers, and its env. */
const INDEX_CGI = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "Name: $(hostname)"
echo "Greeting: $GREETING"
`;

/**
 * busybox with the applets above, a start script as entrypoint (the image's Cmd is its argument list),
 * /etc/motd and /data/{a,b}; then a layer that deletes /etc/motd and makes /data opaque (only c left).
 */
async function buildWebImage(greeting: string): Promise<TestImage> {
  const base = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: readFileSync('/bin/busybox'), mode: 0o755 },
    ...APPLETS.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' })),
    { name: 'start.sh', body: 'echo "start.sh: GREETING=$GREETING"\nexec "$@"\n', mode: 0o755 },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/motd', body: 'deleted by the next layer\n' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'data/', type: 'directory' },
    { name: 'data/a', body: 'a\n' },
    { name: 'data/b', body: 'b\n' },
    { name: 'www/', type: 'directory' },
    { name: 'www/cgi-bin/', type: 'directory' },
    { name: 'www/cgi-bin/index.cgi', body: INDEX_CGI, mode: 0o755 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
  const top = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.motd' },
    { name: 'data/', type: 'directory' },
    { name: 'data/.wh..wh..opq' },
    { name: 'data/c', body: 'c\n' },
  ]);
  return imageOf([layerOf(base, true), layerOf(top, false)], {
    Env: ['PATH=/bin', `GREETING=${greeting}`],
    Entrypoint: ['/bin/sh', '/start.sh'],
    Cmd: ['httpd', '-f', '-p', '80', '-h', '/www'],
    WorkingDir: '/www',
    ExposedPorts: { '80/tcp': {} },
  });
}

/** GET over HTTP(S) from the test's namespace (attached to the lab's switch); status and body. */
function get(
  url: string,
  opts: { ca?: string; auth?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const headers: Record<string, string> = opts.auth
      ? { Authorization: `Basic ${Buffer.from(opts.auth).toString('base64')}` }
      : {};
    const req = request(
      url,
      { headers, agent: false, timeout: opts.timeoutMs ?? 5_000, ca: opts.ca },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.end();
  });
}

/**
 * busybox wget inside a task, bounded by busybox timeout (Debian's busybox 1.35 wget crashes on its
 * own -T option).
 */
const wget = (host: string) => ['timeout', '10', 'wget', '-q', '-O', '-', `http://${host}/`];

const field = (body: string, key: string) => new RegExp(`^${key}: (.*)$`, 'm').exec(body)?.[1];

test('services on real images on a 3-host lab', { skip: !isRoot && 'needs root' }, async (t) => {
  const password = randomBytes(12).toString('hex');
  const lab = await createTestLab(
    t,
    3,
    1,
    [],
    [
      { name: 'private', port: 5443, basicAuth: { user: 'swlt', password } },
      { name: 'plain', port: 5000, insecure: true },
    ],
  );
  const hosts = lab.hosts as [LabHostState, LabHostState, LabHostState];
  const [n1] = hosts;
  const [priv, plain] = lab.registries as [LabRegistryState, LabRegistryState];
  const ca = readFileSync(priv.caFile!, 'utf8');
  const privRef = `${priv.address}/swlt/web:1`;
  const plainRef = `${plain.address}/swlt/web:oci`;

  const dir = mkdtempSync(join(tmpdir(), 'swlt-images-e2e-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const image = await buildWebImage(GREETING);
  const plainImage = await buildWebImage(PLAIN_GREETING);
  const saveTar = join(dir, 'web-docker-save.tar');
  const ociTar = join(dir, 'web-oci-layout.tar');
  writeFileSync(saveTar, await dockerSaveTar(image, [privRef]));
  writeFileSync(ociTar, await ociLayoutTar(plainImage, plainRef));

  await t.test('image load -i takes a docker-save tar and an OCI layout tar', async () => {
    assert.match((await swl(n1, ['image', 'load', '-i', saveTar])).stdout, /Loaded image: .*swlt\/web:1/);
    assert.match((await swl(n1, ['image', 'load', '-i', ociTar])).stdout, /Loaded image: .*swlt\/web:oci/);
    const ls = (await swl(n1, ['image', 'ls'])).stdout;
    assert.match(ls, new RegExp(`${priv.address}/swlt/web\\s+1\\b`));
    assert.match(ls, new RegExp(`${plain.address}/swlt/web\\s+oci\\b`));
    const inspect = (await swl(n1, ['image', 'inspect', privRef])).stdout;
    assert.match(inspect, new RegExp(`GREETING=${GREETING}`));
    assert.match(inspect, /start\.sh/);
    assert.match(
      (await swl(n1, ['image', 'inspect', plainRef])).stdout,
      new RegExp(`GREETING=${PLAIN_GREETING}`),
    );
  });

  await t.test('image push: to the insecure registry as is, to the private one after login', async () => {
    await swl(n1, ['image', 'push', plainRef]);
    const plainTags = await get(`http://${plain.address}/v2/swlt/web/tags/list`);
    assert.equal(plainTags.status, 200, plainTags.body);
    assert.deepEqual((JSON.parse(plainTags.body) as { tags: string[] }).tags, ['oci']);

    const anonymous = await runIn(n1, ['swarmlite', 'image', 'push', privRef]);
    assert.notEqual(anonymous.code, 0, 'a push without login is refused');
    assert.match(anonymous.stderr, /unauthorized|authentication required|login/i);
    const wrong = await runIn(n1, [
      'swarmlite',
      'login',
      '-u',
      'swlt',
      '-p',
      'not-the-password',
      priv.address,
    ]);
    assert.notEqual(wrong.code, 0, 'a wrong password does not log in');
    const login = await swl(n1, ['login', '-u', 'swlt', '-p', password, priv.address]);
    assert.match(login.stdout, /Login Succeeded/);
    await swl(n1, ['image', 'push', privRef]);

    assert.equal((await get(`https://${priv.address}/v2/swlt/web/tags/list`, { ca })).status, 401);
    const tags = await get(`https://${priv.address}/v2/swlt/web/tags/list`, {
      ca,
      auth: `swlt:${password}`,
    });
    assert.equal(tags.status, 200, tags.body);
    assert.deepEqual((JSON.parse(tags.body) as { tags: string[] }).tags, ['1']);
  });

  await swl(n1, ['network', 'create', '-d', 'overlay', 'appnet']);
  const [appnet] = JSON.parse((await swl(n1, ['network', 'inspect', 'appnet'])).stdout) as Network[];
  await swl(n1, [
    'service',
    'create',
    '-d',
    '--with-registry-auth',
    '--name',
    'web',
    // One task per node: a replicated service's spread does not survive a node missing its heartbeats
    // on a loaded machine (its tasks move and are not rebalanced), and every node must pull.
    '--mode',
    'global',
    '--network',
    'appnet',
    '-p',
    '5000:80',
    '--hostname',
    '{{.Node.Hostname}}',
    privRef,
  ]);
  const nodeOf = new Map<string, LabHostState>();
  for (const h of hosts) {
    const [node] = JSON.parse((await swl(n1, ['node', 'inspect', h.hostname])).stdout) as { id: string }[];
    nodeOf.set(node!.id, h);
  }
  /** Waits for a task running on each node; if none comes, the error shows `service ps`. */
  const onEveryNode = async (service: string): Promise<Task[]> => {
    try {
      // Generous: each node pulls the image before its task starts, beside whatever else runs.
      return await waitFor(`${service}: a task running on each node`, 240_000, async () => {
        const ts = running(await psJson(n1, service));
        return ts.length === 3 && new Set(ts.map((x) => x.nodeId)).size === 3 ? ts : undefined;
      });
    } catch (err) {
      const ps = await runIn(n1, ['swarmlite', 'service', 'ps', '--no-trunc', service]);
      throw new Error(`${(err as Error).message}\n${ps.stdout}${ps.stderr}`);
    }
  };
  const tasks = await onEveryNode('web');
  const hostOf = (task: Task) => nodeOf.get(task.nodeId)!;
  /** A global service's task is named by its node (Docker's web.<node id>), a replica by its slot. */
  const taskName = (task: Task) => `web.${task.slot || task.nodeId}`;
  const local = tasks.find((x) => hostOf(x) === n1)!;
  const remote = tasks.filter((x) => x !== local);

  await t.test('the service pins the pushed digest, and every node pulled the image', async () => {
    const [svc] = JSON.parse((await swl(n1, ['service', 'inspect', 'web'])).stdout) as Service[];
    assert.match(JSON.stringify(svc!.spec), new RegExp(`${priv.address}/swlt/web:1@sha256:[0-9a-f]{64}`));
    for (const h of hosts) {
      const ls = (await swl(h, ['image', 'ls'])).stdout;
      assert.match(ls, new RegExp(`${priv.address}/swlt/web`), `${h.hostname} has the image`);
    }
  });

  await t.test("each task runs the image's entrypoint and cmd with the image's env", async () => {
    await waitFor('3 start.sh lines in the service logs', 60_000, async () => {
      const logs = (await swl(n1, ['service', 'logs', 'web'])).stdout;
      const lines = logs.split('\n').filter((l) => l.includes(`start.sh: GREETING=${GREETING}`));
      return lines.length >= 3 ? true : undefined;
    });
  });

  await t.test('the whiteout layer deleted /etc/motd and replaced /data, inside a task', async () => {
    for (const task of tasks) {
      const h = hostOf(task);
      const r = await swl(h, ['exec', taskName(task), '--', 'sh', '-c', 'test ! -e /etc/motd && ls /data']);
      assert.equal(r.stdout.trim(), 'c', `${h.hostname}: /data holds only c`);
      assert.match((await swl(h, ['exec', taskName(task), '--', 'cat', '/etc/passwd'])).stdout, /^root:/);
    }
  });

  await t.test('port 5000 answers on every node, from every replica (busybox httpd)', async () => {
    const seen = new Set<string>();
    for (const h of hosts) {
      const a = await waitFor(`${h.hostname}:5000 answers`, 60_000, async () => {
        const r = await get(`http://${h.address}:5000/`);
        return r.status === 200 && field(r.body, 'Name') ? r.body : undefined;
      });
      assert.equal(field(a, 'Greeting'), GREETING);
      seen.add(field(a, 'Name')!);
    }
    await waitFor('every replica answers through the mesh', 60_000, async () => {
      const r = await get(`http://${hosts[seen.size % 3].address}:5000/`);
      const name = r.status === 200 ? field(r.body, 'Name') : undefined;
      if (name) seen.add(name);
      return seen.size === 3 ? true : undefined;
    });
    assert.deepEqual([...seen].sort(), ['node1', 'node2', 'node3']);
  });

  await t.test(
    'tasks resolve the service and tasks.web at 127.0.0.11, and reach each other over the overlay',
    async () => {
      const [svc] = JSON.parse((await swl(n1, ['service', 'inspect', 'web'])).stdout) as Service[];
      const vip = svc!.endpoint.virtualIps.find((v) => v.networkId === appnet!.id)!.addr.split('/')[0]!;
      const ips = tasks.map((x) => ipOn(x, appnet!.id)!);
      const inTask = (args: string[]) => swl(n1, ['exec', taskName(local), '--', ...args]);
      const addresses = (out: string) =>
        out
          .split(/Name:/)
          .slice(1)
          .flatMap((part) => [...part.matchAll(/Address:\s+(\d+\.\d+\.\d+\.\d+)$/gm)].map((m) => m[1]!))
          .sort();
      await waitFor('web resolves to its VIP', 60_000, async () => {
        const r = await inTask(['nslookup', '-type=a', 'web', '127.0.0.11']);
        return JSON.stringify(addresses(r.stdout)) === JSON.stringify([vip]) ? true : undefined;
      });
      await waitFor('tasks.web resolves to the 3 task addresses', 60_000, async () => {
        const r = await inTask(['nslookup', '-type=a', 'tasks.web', '127.0.0.11']);
        return JSON.stringify(addresses(r.stdout)) === JSON.stringify([...ips].sort()) ? true : undefined;
      });
      for (const other of remote) {
        const ip = ipOn(other, appnet!.id)!;
        const r = await waitFor(
          `node1's task reaches ${hostOf(other).hostname}'s at ${ip}`,
          60_000,
          async () => {
            const out = await runIn(n1, ['swarmlite', 'exec', taskName(local), '--', ...wget(ip)]);
            return out.code === 0 ? out.stdout : undefined;
          },
        );
        assert.equal(field(r, 'Name'), hostOf(other).hostname);
      }
      // By name: the task's resolv.conf sends busybox's (static glibc's) resolver to 127.0.0.11.
      const byName = await waitFor('http://web/ answers inside a task', 60_000, async () => {
        const out = await runIn(n1, ['swarmlite', 'exec', taskName(local), '--', ...wget('web')]);
        return out.code === 0 ? out.stdout : undefined;
      });
      assert.equal(field(byName, 'Greeting'), GREETING);
      const viaVip = await inTask(wget(vip));
      assert.equal(field(viaVip.stdout, 'Greeting'), GREETING);
    },
  );

  await t.test(
    'without --with-registry-auth, a node that must pull from the private registry fails the task',
    async () => {
      // Content no other node has yet (the plain image), under a private name.
      const privateOnly = `${priv.address}/swlt/other:1`;
      await swl(n1, ['image', 'tag', plainRef, privateOnly]);
      await swl(n1, ['image', 'push', privateOnly]);
      await swl(n1, ['service', 'create', '-d', '--name', 'noauth', '--replicas', '3', privateOnly]);
      const failed = await waitFor('a noauth task failing to pull', 120_000, async () =>
        (await psJson(n1, 'noauth')).find((x) =>
          /unauthorized|authentication required/i.test(`${x.status.err} ${x.status.message}`),
        ),
      );
      assert.notEqual(nodeOf.get(failed.nodeId), n1, 'node1 has the image: only the others pull');
      await swl(n1, ['service', 'rm', 'noauth']);
    },
  );

  await t.test('a global service on the insecure registry pulls over plain HTTP on every node', async () => {
    await swl(n1, ['service', 'create', '-d', '--name', 'plain', '--mode', 'global', plainRef]);
    await onEveryNode('plain');
    for (const h of hosts)
      assert.match(
        (await swl(h, ['image', 'ls'])).stdout,
        new RegExp(`${plain.address}/swlt/web`),
        h.hostname,
      );
    await waitFor('3 start.sh lines with the plain image env', 60_000, async () => {
      const logs = (await swl(n1, ['service', 'logs', 'plain'])).stdout;
      const lines = logs.split('\n').filter((l) => l.includes(`start.sh: GREETING=${PLAIN_GREETING}`));
      return lines.length >= 3 ? true : undefined;
    });
  });
});
