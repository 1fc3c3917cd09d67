// The embedded DNS on a 3-host lab, asked from inside a task: service names give their VIP (dnsrr:
// the task IPs), tasks.<service> the running tasks and follows scaling, task names and reverse
// lookups work, a service on a network the task does not share does not resolve, other names go to
// the hosts' upstream (a resolver this test runs in node3's namespace), a stopped task leaves the
// answers at once (before it is reported stopped), and garbage sent to 127.0.0.11 leaves it serving.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { enterHost } from '../../deploy/lab/hosts.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import type { Service } from '../../api/objects/index.js';
import { createTestLab, ipOn, isRoot, psJson, runIn, running, swl, waitFor } from './harness.js';

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
    await waitFor(`${svc} running`, 60_000, async () =>
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

  /** The answer, once it is `want` (a task that just reported running is one gossip hop away). */
  const answers = async (kind: 'a' | 'ptr', name: string, want: unknown) => {
    let last: unknown;
    await waitFor(`${name} → ${JSON.stringify(want)}`, 60_000, async () => {
      last = sorted(await ask(kind, name));
      return JSON.stringify(last) === JSON.stringify(want) ? true : undefined;
    }).catch(() => undefined);
    assert.deepEqual(last, want, `${kind} ${name}`);
  };

  await t.test("the task's resolv.conf points at 127.0.0.11", async () => {
    const r = await swl(n1, ['exec', 'cli.1', '--', 'cat', '/etc/resolv.conf']);
    assert.match(r.stdout, /^nameserver 127\.0\.0\.11$/m);
    assert.match(r.stdout, /^options ndots:0$/m);
  });

  await t.test(
    'a service name gives its VIP; tasks.<service> the running tasks, following scale',
    async () => {
      await answers('a', 'web', [vip]);
      await answers('a', 'WEB', [vip]); // names are case-insensitive
      await answers('a', 'tasks.web', await taskIps('web'));
      await swl(n1, ['service', 'scale', '-d', 'web=3']);
      await waitFor('3 web tasks running', 60_000, async () =>
        running(await psJson(n1, 'web')).length === 3 ? true : undefined,
      );
      await answers('a', 'tasks.web', await taskIps('web'));
    },
  );

  await t.test('a dnsrr service answers with its task IPs', async () => {
    await answers('a', 'rr', await taskIps('rr'));
  });

  await t.test('task names and reverse lookups', async () => {
    const [task] = running(await psJson(n1, 'web'));
    const name = `web.${task!.slot}.${task!.id}`;
    const ip = ipOn(task!, appnet!.id)!;
    await answers('a', name, [ip]);
    await answers('ptr', ip, [name]);
    await answers('ptr', vip!, ['web']);
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

  await t.test('a stopped task leaves the answers at once', async () => {
    const before = (await taskIps('web')).length;
    // A poller inside the cli task prints the moment tasks.web loses a task, and which one. It marks
    // in its own /tmp when it is watching (a task's files are its own), seen through `exec`, so the
    // scale-down waits for it however slowly it starts; it gives up after 180 s.
    const ready = `/tmp/dns-e2e-${process.pid}.ready`;
    const poll = `const d=require('node:dns').promises;const fs=require('node:fs');(async()=>{
      const first=await d.resolve4('tasks.web');fs.writeFileSync(${JSON.stringify(ready)},'');
      for(const end=Date.now()+180000;Date.now()<end;){const a=await d.resolve4('tasks.web').catch(()=>[]);
        const lost=first.filter(ip=>!a.includes(ip));
        if(a.length&&lost.length){console.log(JSON.stringify({at:Date.now(),lost}));return;}
        await new Promise(r=>setTimeout(r,20));}console.log('{}');})()`;
    assert.equal(before, 3);
    const seen = swl(n1, ['exec', 'cli.1', '--', 'node', '-e', poll]);
    await waitFor('the poller watching', 180_000, async () =>
      (await runIn(n1, ['swarmlite', 'exec', 'cli.1', '--', 'test', '-e', ready])).code === 0
        ? true
        : undefined,
    );
    await swl(n1, ['service', 'scale', '-d', 'web=2']);
    const { at, lost } = JSON.parse((await seen).stdout) as { at?: number; lost?: string[] };
    assert.ok(at && lost?.length === 1, 'tasks.web lost one task');
    const stopped = await waitFor('the task reported stopped', 60_000, async () => {
      const x = (await psJson(n1, 'web')).find((y) => ipOn(y, appnet!.id) === lost[0]);
      return x && x.status.state === 'shutdown' ? x : undefined;
    });
    const ms = at - Date.parse(stopped.status.timestamp);
    t.diagnostic(
      `tasks.web dropped the stopped task ${ms} ms after it was reported stopped (negative: before)`,
    );
    // Before it is reported stopped by design (negative). The bound only tells "as the task stops" from
    // "much later" (a record left until its node leaves): 13.6 s was seen beside other labs at load 6,
    // so it is wide; how fast is bench:dns's business.
    assert.ok(ms < 30_000, `${ms} ms`);
  });

  await t.test(
    'a task leaves the answers before it is stopped: while it still runs its grace period',
    async () => {
      // It ignores SIGTERM, so it runs on for its whole stop grace period after being told to stop.
      const stubborn = `process.on('SIGTERM',()=>{});setInterval(()=>{},1e9)`;
      await swl(n1, [
        'service',
        'create',
        '-d',
        '--name',
        'slow',
        '--network',
        'appnet',
        '--stop-grace-period',
        '300s',
        'host',
        'node',
        '-e',
        stubborn,
      ]);
      const [task] = await waitFor('slow running', 60_000, async () => {
        const ts = running(await psJson(n1, 'slow'));
        return ts.length === 1 ? ts : undefined;
      });
      await answers('a', 'tasks.slow', [ipOn(task!, appnet!.id)!]);
      const t0 = Date.now();
      await swl(n1, ['service', 'scale', '-d', 'slow=0']);
      await waitFor('tasks.slow gone', 60_000, async () =>
        'error' in (await ask('a', 'tasks.slow')) ? true : undefined,
      );
      const goneMs = Date.now() - t0;
      const [now] = (await psJson(n1, 'slow')).filter((x) => x.id === task!.id);
      t.diagnostic(
        `tasks.slow empty ${goneMs} ms after the scale-down; the task is then ${now?.status.state}`,
      );
      assert.equal(now?.status.state, 'running', 'out of DNS while its process still runs');
      assert.ok(process.kill(now!.status.pid!, 0), 'its process is alive');
    },
  );

  await t.test('garbage sent to 127.0.0.11 leaves the resolver serving', async () => {
    const fuzz = `const s=require('node:dgram').createSocket('udp4');const c=require('node:crypto');let n=0;
      const next=()=>{if(n++>=2000){s.close();console.log('sent');return;}const b=c.randomBytes(c.randomInt(0,600));
      if(n%3===0&&b.length>=12){b[2]=1;b[3]=0;b[4]=0;b[5]=1;}s.send(b,53,'127.0.0.11',next);};next();`;
    assert.match((await swl(n1, ['exec', 'cli.1', '--', 'node', '-e', fuzz])).stdout, /sent/);
    await answers('a', 'web', [vip]);
    await answers('a', 'external.test', ['198.18.255.1']);
  });
});
