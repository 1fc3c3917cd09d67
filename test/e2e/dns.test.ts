// The embedded DNS on a 3-host lab, asked from inside a task: service names give their VIP (dnsrr:
// the task IPs), tasks.<service> the running tasks and follows scaling, task names and reverse
// lookups work, a service on a network the task does not share does not resolve, other names go to
// the hosts' upstream (a resolver this test runs in node3's namespace), a stopped task leaves the
// answers within 1 s, and garbage sent to 127.0.0.11 leaves it serving.
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { enterHost } from '../../deploy/lab/hosts.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import type { Service } from '../../manager/store/index.js';
import { createTestLab, ipOn, isRoot, psJson, running, swl, waitFor } from './harness.js';

/** The test's upstream: A 198.18.255.1 for external.test, NXDOMAIN for anything else. */
const UPSTREAM = (dnsPacket: string) => `
const packet = require(${JSON.stringify(dnsPacket)});
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => {
  let q;
  try { q = packet.decode(m); } catch { return; }
  const name = q.questions?.[0]?.name ?? '';
  const known = name.toLowerCase() === 'external.test';
  s.send(packet.encode({ id: q.id, type: 'response', flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (known ? 0 : 3),
    questions: q.questions, answers: known ? [{ name, type: 'A', ttl: 60, data: '198.18.255.1' }] : [] }), r.port, r.address);
});
s.bind(53, () => console.log('ready'));
`;

/** Asks inside a task through its resolv.conf (node's resolver, c-ares): prints JSON. */
const ASK = `
const d = require('node:dns').promises;
const [kind, name] = process.argv.slice(1);
(kind === 'ptr' ? d.reverse(name) : d.resolve4(name)).then(
  (a) => console.log(JSON.stringify(a)),
  (e) => console.log(JSON.stringify({ error: e.code })),
);
`;

test('embedded DNS on a 3-host lab', { skip: !isRoot && 'needs root' }, async (t) => {
  const resolvConf = join(tmpdir(), `swarmlite-dns-e2e-${process.pid}.conf`);
  t.after(() => rmSync(resolvConf, { force: true }));
  writeFileSync(resolvConf, '# no upstream yet\n');
  const lab = await createTestLab(t, 3, 1, ['--resolv-conf', resolvConf]);
  const [n1, , n3] = lab.hosts as [LabHostState, LabHostState, LabHostState];

  // The upstream, in node3's namespace; every daemon's tasks forward to it from now on.
  const up = enterHost(n3, [
    process.execPath,
    '-e',
    UPSTREAM(createRequire(import.meta.url).resolve('dns-packet')),
  ]);
  const upstream = spawn(up[0]!, up.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => upstream.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    upstream.stdout.once('data', () => resolve());
    upstream.once('exit', (code) => reject(new Error(`upstream exited ${code}`)));
  });
  writeFileSync(resolvConf, `nameserver ${n3.address}\n`);

  for (const net of ['appnet', 'othernet']) await swl(n1, ['network', 'create', '-d', 'overlay', net]);
  const whoami = ['host', 'swarmlite', 'whoami', '--port', '80'];
  await swl(n1, [
    'service',
    'create',
    '-d',
    '--name',
    'web',
    '--replicas',
    '2',
    '--network',
    'appnet',
    ...whoami,
  ]);
  await swl(n1, [
    'service',
    'create',
    '-d',
    '--name',
    'rr',
    '--replicas',
    '2',
    '--endpoint-mode',
    'dnsrr',
    '--network',
    'appnet',
    ...whoami,
  ]);
  await swl(n1, ['service', 'create', '-d', '--name', 'other', '--network', 'othernet', ...whoami]);
  await swl(n1, [
    'service',
    'create',
    '-d',
    '--name',
    'cli',
    '--network',
    'appnet',
    'host',
    'sleep',
    'infinity',
  ]);
  for (const [svc, n] of [
    ['web', 2],
    ['rr', 2],
    ['other', 1],
    ['cli', 1],
  ] as const)
    await waitFor(`${svc} running`, 30_000, async () =>
      running(await psJson(n1, svc)).length === n ? true : undefined,
    );
  const [appnet] = JSON.parse((await swl(n1, ['network', 'inspect', 'appnet'])).stdout) as { id: string }[];
  const [webSvc] = JSON.parse((await swl(n1, ['service', 'inspect', 'web'])).stdout) as Service[];
  const vip = webSvc!.endpoint.virtualIps.find((v) => v.networkId === appnet!.id)!.addr.split('/')[0];

  const ask = async (kind: 'a' | 'ptr', name: string): Promise<string[] | { error: string }> => {
    const r = await swl(n1, ['exec', 'cli.1', '--', 'node', '-e', ASK, kind, name]);
    return JSON.parse(r.stdout) as string[] | { error: string };
  };
  const sorted = (x: unknown) => (Array.isArray(x) ? [...(x as string[])].sort() : x);
  const taskIps = async (svc: string) =>
    running(await psJson(n1, svc))
      .map((x) => ipOn(x, appnet!.id)!)
      .sort();

  await t.test("the task's resolv.conf points at 127.0.0.11", async () => {
    const r = await swl(n1, ['exec', 'cli.1', '--', 'cat', '/etc/resolv.conf']);
    assert.match(r.stdout, /^nameserver 127\.0\.0\.11$/m);
    assert.match(r.stdout, /^options ndots:0$/m);
  });

  await t.test(
    'a service name gives its VIP; tasks.<service> the running tasks, following scale',
    async () => {
      assert.deepEqual(await ask('a', 'web'), [vip]);
      assert.deepEqual(await ask('a', 'WEB'), [vip], 'names are case-insensitive');
      const two = await taskIps('web');
      const answer = sorted(await ask('a', 'tasks.web'));
      if (JSON.stringify(answer) !== JSON.stringify(two)) {
        // What the manager's node knows, to tell a gossip gap from a resolver bug.
        const [v] = JSON.parse((await swl(n1, ['network', 'inspect', '-v', 'appnet'])).stdout) as {
          programmed: unknown;
        }[];
        const [cli] = running(await psJson(n1, 'cli'));
        t.diagnostic(`cli on ${cli?.nodeId}; node1 sees ${JSON.stringify(v?.programmed)}`);
      }
      assert.deepEqual(answer, two);
      await swl(n1, ['service', 'scale', '-d', 'web=3']);
      await waitFor('3 web tasks running', 30_000, async () =>
        running(await psJson(n1, 'web')).length === 3 ? true : undefined,
      );
      const three = await taskIps('web');
      await waitFor('tasks.web follows', 5_000, async () =>
        JSON.stringify(sorted(await ask('a', 'tasks.web'))) === JSON.stringify(three) ? true : undefined,
      );
    },
  );

  await t.test('a dnsrr service answers with its task IPs', async () => {
    assert.deepEqual(sorted(await ask('a', 'rr')), await taskIps('rr'));
  });

  await t.test('task names and reverse lookups', async () => {
    const [task] = running(await psJson(n1, 'web'));
    const name = `web.${task!.slot}.${task!.id}`;
    const ip = ipOn(task!, appnet!.id)!;
    assert.deepEqual(await ask('a', name), [ip]);
    assert.deepEqual(await ask('ptr', ip), [name]);
    assert.deepEqual(await ask('ptr', vip!), ['web']);
  });

  await t.test(
    'a service on a network the task does not share does not resolve; external names go upstream',
    async () => {
      assert.deepEqual(await ask('a', 'other'), { error: 'ENOTFOUND' });
      assert.deepEqual(await ask('a', 'tasks.other'), { error: 'ENOTFOUND' });
      assert.deepEqual(await ask('a', 'external.test'), ['198.18.255.1']);
      assert.deepEqual(await ask('a', 'missing.test'), { error: 'ENOTFOUND' }, "the upstream's NXDOMAIN");
    },
  );

  await t.test('a stopped task leaves the answers within 1 s', async () => {
    const before = running(await psJson(n1, 'web'));
    const gone = before.find((x) => x.slot === 3)!;
    const goneIp = ipOn(gone, appnet!.id)!;
    // A poller inside the cli task prints the moment tasks.web stops naming the task. It marks (on the
    // host's filesystem, which the task shares) when it has seen the task once, so the scale-down
    // waits for it to be watching however slowly it starts.
    const ready = `/run/swarmlite-dns-e2e-${process.pid}.ready`; // not /tmp: tasks have their own
    t.after(() => rmSync(ready, { force: true }));
    const poll = `const d=require('node:dns').promises;const fs=require('node:fs');(async()=>{for(;;){
      const a=await d.resolve4('tasks.web').catch(()=>[]);
      if(!a.includes(${JSON.stringify(goneIp)})){console.log(Date.now());return;}
      fs.writeFileSync(${JSON.stringify(ready)},'');await new Promise(r=>setTimeout(r,20));}})()`;
    const seen = swl(n1, ['exec', 'cli.1', '--', 'node', '-e', poll]);
    await waitFor('the poller watching', 15_000, async () => (existsSync(ready) ? true : undefined));
    await swl(n1, ['service', 'scale', '-d', 'web=2']);
    const seenAt = Number((await seen).stdout.trim());
    const stopped = await waitFor('the task reported stopped', 15_000, async () => {
      const x = (await psJson(n1, 'web')).find((y) => y.id === gone.id);
      return x && x.status.state === 'shutdown' ? x : undefined;
    });
    const ms = seenAt - Date.parse(stopped.status.timestamp);
    t.diagnostic(
      `tasks.web dropped the stopped task ${ms} ms after it was reported stopped (negative: before)`,
    );
    assert.ok(ms < 1_000, `${ms} ms`);
  });

  await t.test('garbage sent to 127.0.0.11 leaves the resolver serving', async () => {
    const fuzz = `const s=require('node:dgram').createSocket('udp4');const c=require('node:crypto');let n=0;
      const next=()=>{if(n++>=2000){s.close();console.log('sent');return;}const b=c.randomBytes(c.randomInt(0,600));
      if(n%3===0&&b.length>=12){b[2]=1;b[3]=0;b[4]=0;b[5]=1;}s.send(b,53,'127.0.0.11',next);};next();`;
    assert.match((await swl(n1, ['exec', 'cli.1', '--', 'node', '-e', fuzz])).stdout, /sent/);
    assert.deepEqual(await ask('a', 'web'), [vip]);
    assert.deepEqual(await ask('a', 'external.test'), ['198.18.255.1']);
  });
});
