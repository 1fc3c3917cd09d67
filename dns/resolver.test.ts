// The embedded resolver on this kernel (root): sockets opened in a namespace of the test's own by
// the helper, real DNS packets from a client inside it, an upstream server of the test's own on a
// loopback address of this namespace (no internet). Each test removes what it made.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import * as packet from 'dns-packet';
import { run } from '../lib/exec.js';
import { prng } from '../lib/fuzz.js';
import { rejectCounts } from '../lib/rejects.js';
import { EmbeddedDns, type DnsTask } from './resolver.js';
import { frame } from './tcp-framing.js';
import {
  b64,
  clientIn,
  MemorySource,
  query,
  quietLog,
  record,
  TestUpstream,
  testNetns,
  type ClientOp,
  type TestContextLike,
} from './test-support.js';

const FRONT = 'net-front';
const BACK = 'net-back';

function fill(s: MemorySource): MemorySource {
  s.set(FRONT, [
    record({ serviceName: 'web', taskId: 't1', ip: '10.0.1.5', vip: '10.0.1.2', aliases: ['www'] }),
    record({ serviceName: 'web', taskId: 't2', ip: '10.0.1.6', vip: '10.0.1.2' }),
    record({ serviceName: 'rr', taskId: 't3', ip: '10.0.1.7', endpointMode: 'dnsrr' }),
  ]);
  s.set(BACK, [record({ serviceName: 'secret', taskId: 't9', ip: '10.0.2.5', vip: '10.0.2.2' })]);
  return s;
}

async function setup(
  t: TestContextLike,
  opts: Partial<ConstructorParameters<typeof EmbeddedDns>[0]> = {},
  task: Partial<DnsTask> = {},
) {
  const ns = await testNetns(t);
  const src = opts.source instanceof MemorySource ? opts.source : new MemorySource();
  const dns = new EmbeddedDns({ log: quietLog(), upstreams: [], timeoutMs: 400, ...opts, source: src });
  t.after(() => dns.close());
  // After the resolver subscribed: it learns of every network of the node through onChange.
  fill(src);
  await dns.attachTask({
    taskId: 'task-a',
    netnsPath: ns.path,
    networkIds: [FRONT],
    nameservers: [],
    ...task,
  });
  return { dns, ns, src };
}

type Decoded = packet.DecodedPacket & { rcode: string };
const decode = (s: string) => packet.decode(Buffer.from(s, 'base64')) as Decoded;
const data = (d: packet.DecodedPacket) => (d.answers ?? []).map((a) => String((a as { data: unknown }).data));
const ask = (name: string, type: packet.RecordType = 'A', id = 4321, timeoutMs = 3000): ClientOp => ({
  op: 'ask',
  packet: b64(query(name, type, id)),
  timeoutMs,
});
const answersOf = async (path: string, ops: ClientOp[]) =>
  ((await clientIn(path, ops)) as { answer?: string }[]).map((r) =>
    r.answer ? decode(r.answer) : undefined,
  );

test('a task resolves names of its networks over UDP and TCP, and nothing of the others', async (t) => {
  const { dns, ns, src } = await setup(t);
  const [web, tasks, taskName, alias, rr, aaaa, secret, ptr, vipPtr, upper] = await answersOf(ns.path, [
    ask('web', 'A', 11),
    ask('tasks.web'),
    ask('web.1.t1'),
    ask('www'),
    ask('rr'),
    ask('web', 'AAAA'),
    ask('secret'),
    ask('5.1.0.10.in-addr.arpa', 'PTR'),
    ask('2.1.0.10.in-addr.arpa', 'PTR'),
    ask('TASKS.Web.'),
  ]);
  assert.equal(web!.id, 11);
  assert.deepEqual(data(web!), ['10.0.1.2']);
  assert.deepEqual(data(tasks!).sort(), ['10.0.1.5', '10.0.1.6']);
  assert.deepEqual(data(taskName!), ['10.0.1.5']);
  assert.deepEqual(data(alias!), ['10.0.1.5']);
  assert.deepEqual(data(rr!), ['10.0.1.7']);
  assert.equal(aaaa!.rcode, 'NOERROR');
  assert.deepEqual(data(aaaa!), []);
  assert.equal(secret!.rcode, 'NXDOMAIN', 'a service on a network the task does not share');
  assert.deepEqual(data(ptr!), ['web.1.t1', 'www']);
  assert.deepEqual(data(vipPtr!), ['web']);
  assert.equal(upper!.questions![0]!.name, 'TASKS.Web');
  assert.deepEqual(data(upper!).sort(), ['10.0.1.5', '10.0.1.6']);

  // TCP: two pipelined queries in one write.
  const [tcp] = (await clientIn(ns.path, [
    {
      op: 'tcp',
      chunks: [b64(Buffer.concat([frame(query('web', 'A', 1)), frame(query('tasks.rr', 'A', 2))]))],
      gapMs: 0,
      timeoutMs: 300,
    },
  ])) as { answers: string[] }[];
  const byId = new Map(tcp!.answers.map((a) => [decode(a).id, decode(a)]));
  assert.deepEqual(data(byId.get(1)!), ['10.0.1.2']);
  assert.deepEqual(data(byId.get(2)!), ['10.0.1.7']);

  // Records change: a task stops, another network is joined.
  src.set(
    FRONT,
    src.records(FRONT).filter((r) => r.taskId !== 't1'),
  );
  dns.updateTask('task-a', [FRONT, BACK]);
  const [tasks2, secret2, gone] = await answersOf(ns.path, [
    ask('tasks.web'),
    ask('secret'),
    ask('web.1.t1'),
  ]);
  assert.deepEqual(data(tasks2!), ['10.0.1.6']);
  assert.deepEqual(data(secret2!), ['10.0.2.2']);
  // No network has that name any more: not ours, so forwarded (SERVFAIL: this test has no upstream).
  assert.equal(gone!.rcode, 'SERVFAIL');
  const s = dns.stats();
  assert.equal(s.answered, 14);
  assert.equal(s.servfail, 1);
  assert.equal(s.forwarded + s.formerr + s.dropped, 0);
});

test('a swarm service on a network this node has no sandbox of is NXDOMAIN, never forwarded', async (t) => {
  // Issue 18, fault 4: this node knows FRONT only (no BACK records at all), as a node with no task on
  // BACK. `secret` lives on BACK. Before the resolver learnt the swarm's service names it forwarded
  // `secret` upstream (the name left the cluster; here the upstream's 198.18.7.7 came back), while a
  // node holding BACK answered NXDOMAIN.
  const upstream = await new TestUpstream('answer', '198.18.7.7').start(t);
  const ns = await testNetns(t);
  const src = new MemorySource();
  const dns = new EmbeddedDns({
    log: quietLog(),
    upstreams: [upstream.address],
    timeoutMs: 400,
    source: src,
  });
  t.after(() => dns.close());
  src.set(FRONT, [record({ serviceName: 'web', taskId: 't1', ip: '10.0.1.5', vip: '10.0.1.2' })]);
  dns.setSwarmServices(['web', 'Secret']);
  await dns.attachTask({ taskId: 'task-a', netnsPath: ns.path, networkIds: [FRONT], nameservers: [] });
  const taskId = 'a'.repeat(25);
  const [secret, tasksSecret, taskName, web, other] = await answersOf(ns.path, [
    ask('secret'),
    ask('tasks.secret'),
    ask(`secret.3.${taskId}`),
    ask('web'),
    ask('example.com'),
  ]);
  assert.equal(secret!.rcode, 'NXDOMAIN');
  assert.equal(tasksSecret!.rcode, 'NXDOMAIN');
  assert.equal(taskName!.rcode, 'NXDOMAIN');
  assert.deepEqual(data(web!), ['10.0.1.2']);
  assert.deepEqual(data(other!), ['198.18.7.7'], "a name that is not the swarm's is still forwarded");
  assert.equal(upstream.udpQueries, 1, 'only example.com reached the upstream');

  // The service is removed from the swarm: its name is no longer the swarm's.
  dns.setSwarmServices(['web']);
  const [gone] = await answersOf(ns.path, [ask('secret')]);
  assert.deepEqual(data(gone!), ['198.18.7.7']);
});

test('forwarding: the upstream answer with the client id, TCP on truncation, SERVFAIL in time', async (t) => {
  const answering = await new TestUpstream('answer', '198.18.9.9').start(t);
  const truncating = await new TestUpstream('truncate', '198.18.8.8').start(t);
  const silent = await new TestUpstream('silent').start(t);
  const { dns, ns } = await setup(t, { upstreams: ['127.0.0.11', answering.address] });
  const [out] = await answersOf(ns.path, [ask('example.com', 'A', 999)]);
  assert.equal(out!.id, 999);
  assert.deepEqual(data(out!), ['198.18.9.9']);
  assert.equal(answering.udpQueries, 1);

  // A task with --dns: its servers replace the host's (a silent one first, then one that truncates).
  const ns2 = await testNetns(t);
  await dns.attachTask({
    taskId: 'task-b',
    netnsPath: ns2.path,
    networkIds: [FRONT],
    nameservers: [silent.address, truncating.address],
  });
  // The client waits 10 s: the answer arriving at all shows the silent server's attempt was given up
  // within the budget (400 ms here); how long it took on this machine belongs in bench:dns.
  const [viaTcp] = await answersOf(ns2.path, [ask('example.org', 'A', 4321, 10_000)]);
  assert.deepEqual(data(viaTcp!), ['198.18.8.8']);
  assert.equal(truncating.tcpQueries, 1, 'the truncated UDP answer was retried over TCP');
  assert.equal(answering.udpQueries, 1, 'the host upstream was not asked for task-b');

  // Only silent upstreams: SERVFAIL within the budget, never a hang.
  const ns3 = await testNetns(t);
  await dns.attachTask({
    taskId: 'task-c',
    netnsPath: ns3.path,
    networkIds: [],
    nameservers: [silent.address],
  });
  // Without the budget no answer would ever come: a silent upstream never answers.
  const [failed] = await answersOf(ns3.path, [ask('example.net', 'A', 4321, 10_000)]);
  assert.equal(failed!.rcode, 'SERVFAIL');
  assert.equal(dns.stats().forwarded, 2);
  assert.equal(dns.stats().servfail, 1);
});

test('forwarding: a large answer reaches a UDP client truncated and a TCP client whole; in-flight is bounded', async (t) => {
  const big = await new TestUpstream('truncate', '', 100).start(t);
  const { dns, ns } = await setup(t, { upstreams: [big.address], maxInFlight: 2 });
  const [udp] = await answersOf(ns.path, [ask('big.example')]);
  assert.equal(udp!.flag_tc, true);
  const [tcp] = (await clientIn(ns.path, [
    { op: 'tcp', chunks: [b64(frame(query('big.example', 'A', 5)))], gapMs: 0, timeoutMs: 10_000, expect: 1 },
  ])) as { answers: string[] }[];
  assert.equal(data(decode(tcp!.answers[0]!)).length, 100);

  big.mode = 'silent';
  const burst = Buffer.concat(Array.from({ length: 6 }, (_, i) => frame(query(`q${i}.example`, 'A', i))));
  const [r] = (await clientIn(ns.path, [
    { op: 'tcp', chunks: [b64(burst)], gapMs: 0, timeoutMs: 10_000, expect: 6 },
  ])) as {
    answers: string[];
  }[];
  assert.equal(r!.answers.length, 6);
  assert.ok(r!.answers.every((a) => decode(a).rcode === 'SERVFAIL'));
  assert.equal(dns.stats().servfail, 6, 'four at once (bound of 2), two at the timeout');
});

function fuzzPackets(n: number, rand: () => number): Buffer[] {
  const int = (k: number) => Math.floor(rand() * k);
  const seeds = [
    query('web'),
    query('tasks.web', 'AAAA'),
    query('x.example', 'MX', 1, true),
    query('5.1.0.10.in-addr.arpa', 'PTR'),
  ];
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const kind = int(4);
    if (kind === 0) {
      out.push(Buffer.from(Array.from({ length: int(600) }, () => int(256))));
      continue;
    }
    const p = Buffer.from(seeds[int(seeds.length)]!);
    if (kind === 1) for (let j = 0; j < 1 + int(4); j++) p[int(p.length)] = int(256);
    if (kind === 2) p.writeUInt16BE(int(0x10000), 4 + 2 * int(4)); // a section count
    const cut = kind === 3 ? p.subarray(0, int(p.length + 1)) : p;
    out.push(rand() < 0.1 ? Buffer.concat([cut, Buffer.from([0xc0, int(256)])]) : cut);
  }
  return out;
}

test('fuzz: thousands of random and mutated packets over UDP and TCP leave the resolver answering', async (t) => {
  const upstream = await new TestUpstream('answer').start(t);
  const { dns, ns } = await setup(t, { upstreams: [upstream.address] });
  const rand = prng(20261122);
  const packets = fuzzPackets(4000, rand);
  const tcpStreams = Array.from({ length: 20 }, () =>
    b64(Buffer.concat(fuzzPackets(20, rand).map((p) => (rand() < 0.8 && p.length >= 12 ? frame(p) : p)))),
  );
  const results = await clientIn(ns.path, [
    { op: 'blast', packets: packets.map(b64) },
    ...tcpStreams.map((s): ClientOp => ({ op: 'tcp', chunks: [s], gapMs: 0, timeoutMs: 100 })),
    ask('web', 'A', 77),
    { op: 'tcp', chunks: [b64(frame(query('tasks.web', 'A', 78)))], gapMs: 0, timeoutMs: 1000, expect: 1 },
  ]);
  assert.deepEqual(results[0], { sent: 4000 });
  const udp = decode((results.at(-2) as { answer: string }).answer);
  assert.equal(udp.id, 77);
  assert.deepEqual(data(udp), ['10.0.1.2']);
  const tcp = decode((results.at(-1) as { answers: string[] }).answers[0]!);
  assert.deepEqual(data(tcp).sort(), ['10.0.1.5', '10.0.1.6']);
  const s = dns.stats();
  // A blast of 4,000 datagrams overflows the socket's receive buffer on a loaded machine: the kernel
  // drops some before the resolver sees them (3,891 seen on a quiet CI run, 1,715 at load 7). What
  // counts is that the resolver read hundreds of them, refused the malformed ones as such, and still
  // answers; the shares below hold for any number read (about 70% FORMERR, 20% dropped).
  assert.ok(s.queries >= 400, JSON.stringify(s));
  assert.ok(s.formerr >= s.queries / 5 && s.dropped >= s.queries / 20, JSON.stringify(s));
  // Issue 18, fault 8: counted where operators see them (`swarmlite info`), by kind.
  const counts = rejectCounts();
  assert.ok((counts['dns-udp:malformed'] ?? 0) > 100, JSON.stringify(counts));
  assert.ok((counts['dns-udp:unparsable'] ?? 0) > 100, JSON.stringify(counts));
});

test('tcp abuse: a short length prefix, a slowloris, a huge length and too many connections', async (t) => {
  const { ns, dns } = await setup(t, { tcpIdleMs: 300, maxTcpConnections: 4 });
  const [short, slow, huge, many] = (await clientIn(ns.path, [
    { op: 'tcp', chunks: [b64(Buffer.from([0, 3, 1, 2, 3]))], gapMs: 0, timeoutMs: 10_000 },
    // One byte every 50 ms of a valid query: never complete within the idle timeout.
    {
      op: 'tcp',
      chunks: [...frame(query('web'))].map((x) => b64(Buffer.from([x]))),
      gapMs: 50,
      timeoutMs: 10_000,
    },
    { op: 'tcp', chunks: [b64(Buffer.from([0xff, 0xff, 1, 2, 3]))], gapMs: 0, timeoutMs: 10_000 },
    { op: 'connections', count: 10, holdMs: 150 },
  ])) as { closedByServer: boolean; ms: number; answers: string[] }[];
  // Closed by the server (the client's own deadline is 10 s), the slow ones by the idle timer: not
  // before it ran out, and with no answer to the query that never completed.
  t.diagnostic(`closed after: short ${short!.ms} ms, slowloris ${slow!.ms} ms, huge ${huge!.ms} ms`);
  assert.equal(short!.closedByServer, true);
  assert.equal(slow!.closedByServer, true);
  assert.deepEqual(slow!.answers, []);
  assert.ok(slow!.ms >= 250, `slowloris closed after ${slow!.ms} ms, before the 300 ms idle timeout`);
  assert.equal(huge!.closedByServer, true);
  assert.ok(huge!.ms >= 250, `huge length closed after ${huge!.ms} ms, before the 300 ms idle timeout`);
  assert.deepEqual(many, { closedByServer: 6 });
  const [after] = await answersOf(ns.path, [ask('web')]);
  assert.deepEqual(data(after!), ['10.0.1.2']);
  assert.ok(dns.stats().dropped >= 7);
});

test('attach is idempotent, detach closes the sockets, close unsubscribes; a bad namespace fails clearly', async (t) => {
  const src = new MemorySource();
  const { dns, ns } = await setup(t, { source: src });
  await dns.attachTask({ taskId: 'task-a', netnsPath: ns.path, networkIds: [FRONT], nameservers: [] });
  const [ok] = await answersOf(ns.path, [ask('web')]);
  assert.deepEqual(data(ok!), ['10.0.1.2']);
  dns.detachTask('task-a');
  const [gone] = (await clientIn(ns.path, [ask('web', 'A', 1, 300)])) as { answer?: string }[];
  assert.equal(gone!.answer, undefined, 'nothing listens at 127.0.0.11 any more');
  // Attached again after a detach: a fresh pair of sockets.
  await dns.attachTask({ taskId: 'task-a', netnsPath: ns.path, networkIds: [FRONT], nameservers: [] });
  assert.deepEqual(data((await answersOf(ns.path, [ask('web')]))[0]!), ['10.0.1.2']);

  const missing = '/run/netns/dnst-does-not-exist';
  assert.equal(existsSync(missing), false);
  await assert.rejects(
    dns.attachTask({ taskId: 'x', netnsPath: missing, networkIds: [], nameservers: [] }),
    /dns: cannot open 127\.0\.0\.11:53 in \/run\/netns\/dnst-does-not-exist: cannot open the namespace: No such file or directory$/,
  );
  // A namespace whose lo was never brought up has no 127.0.0.0/8: the helper says why it cannot bind.
  const bare = `dnst${randomBytes(4).toString('hex')}`;
  await run('ip', ['netns', 'add', bare]);
  t.after(() => run('ip', ['netns', 'del', bare]).catch(() => undefined));
  await assert.rejects(
    dns.attachTask({ taskId: 'y', netnsPath: `/run/netns/${bare}`, networkIds: [], nameservers: [] }),
    /dns: cannot open 127\.0\.0\.11:53 in \/run\/netns\/dnst\w+: nothing reaches it \(.*\): is lo up\? \(ip link set lo up\)$/,
  );
  await dns.close();
  assert.equal(src.listenerCount, 0);
  await assert.rejects(
    dns.attachTask({ taskId: 'z', netnsPath: ns.path, networkIds: [], nameservers: [] }),
    /resolver is closed/,
  );
});
