// The batch binder for real: namespaces of this test's own, one helper run for many of them, each
// namespace's sockets bound in that namespace and nowhere else, and a bad entry failing alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Socket as UdpSocket } from 'node:dgram';
import { run } from '../lib/exec.js';
import { SocketBatcher } from './socket-batch.js';
import { HELPER, openTaskSockets, type TaskSockets } from './task-sockets.js';
import { b64, clientIn, testNetns } from './test-support.js';

const root = process.getuid?.() === 0;
const skip = !root
  ? 'needs root (network namespaces)'
  : !SocketBatcher.available()
    ? 'no perl or setns number'
    : false;

/** Each socket answers any datagram with its namespace's name: who answers says where it is bound. */
function answerWithName(udp: UdpSocket, name: string): void {
  udp.on('message', (_m, from) => udp.send(Buffer.from(name), from.port, from.address));
}

async function whoAnswers(path: string): Promise<string | undefined> {
  const [r] = (await clientIn(path, [{ op: 'ask', packet: b64(Buffer.from('hi')), timeoutMs: 2000 }])) as {
    answer?: string;
  }[];
  return r?.answer === undefined ? undefined : Buffer.from(r.answer, 'base64').toString();
}

const closeAll = (all: TaskSockets[]) => all.forEach((s) => (s.udp.close(), s.tcp.close()));

test(
  'one run binds 127.0.0.11:53 in every namespace asked together; a bad entry fails alone',
  { skip },
  async (t) => {
    const good = await Promise.all(Array.from({ length: 6 }, () => testNetns(t)));
    const loDown = `dnst${randomBytes(4).toString('hex')}`;
    await run('ip', ['netns', 'add', loDown]);
    t.after(() => run('ip', ['netns', 'del', loDown]).catch(() => undefined));
    const missing = `/run/netns/dnst-missing-${randomBytes(4).toString('hex')}`;

    const batcher = new SocketBatcher(HELPER, '127.0.0.11', 53, 5000);
    const asked = [...good.map((n) => n.path), missing, `/run/netns/${loDown}`];
    const results = await Promise.allSettled(asked.map((p) => batcher.open(p)));
    assert.equal(batcher.runs, 1, 'asked in the same turn: one helper run');

    const opened = results
      .slice(0, 6)
      .map((r) => (r.status === 'fulfilled' ? r.value : assert.fail(String(r.reason))));
    t.after(() => closeAll(opened));
    opened.forEach((s, i) => answerWithName(s.udp, good[i]!.name));
    for (const [i, s] of opened.entries()) {
      assert.deepEqual(s.tcp.address(), { address: '127.0.0.11', family: 'IPv4', port: 53 });
      assert.equal(await whoAnswers(good[i]!.path), good[i]!.name, 'the socket is in its own namespace');
    }
    const reason = (i: number) => String((results[i] as PromiseRejectedResult).reason);
    assert.match(
      reason(6),
      /cannot open 127\.0\.0\.11:53 in \/run\/netns\/dnst-missing-\w+: cannot open the namespace: No such file/,
    );
    assert.match(reason(7), /nothing reaches it \(.+\): is lo up\?/);
  },
);

test(
  'queued requests go in the next run, at most maxBatch a run; the single helper still works',
  { skip },
  async (t) => {
    const nss = await Promise.all(Array.from({ length: 5 }, () => testNetns(t)));
    const batcher = new SocketBatcher(HELPER, '127.0.0.11', 53, 5000, 2);
    const opened = await Promise.all(nss.map((n) => batcher.open(n.path)));
    t.after(() => closeAll(opened));
    assert.equal(batcher.runs, 3, '5 requests, 2 a run');
    opened.forEach((s, i) => answerWithName(s.udp, nss[i]!.name));
    for (const [i, n] of nss.entries()) assert.equal(await whoAnswers(n.path), nss[i]!.name);

    // The one-namespace helper (nsenter + Node), used where perl or setns is missing.
    const one = await testNetns(t);
    const single = await openTaskSockets(one.path, { batch: false });
    t.after(() => closeAll([single]));
    answerWithName(single.udp, one.name);
    assert.equal(await whoAnswers(one.path), one.name);
    // And says what is wrong as the batch does: here, a namespace whose lo is down.
    const bare = `dnst${randomBytes(4).toString('hex')}`;
    await run('ip', ['netns', 'add', bare]);
    t.after(() => run('ip', ['netns', 'del', bare]).catch(() => undefined));
    await assert.rejects(
      openTaskSockets(`/run/netns/${bare}`, { batch: false }),
      /^Error: dns: cannot open 127\.0\.0\.11:53 in \/run\/netns\/dnst\w+: nothing reaches it \(.+\): is lo up\? \(ip link set lo up\)$/,
    );
  },
);
