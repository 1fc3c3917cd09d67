// The sending side after the receiving member goes away cleanly (its transport stopped, as in a
// RaftNode.stop()) and comes back on the same address: the sender must report the peer unreachable (so
// the leader stops pipelining into the void) and must reach the new incarnation without help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { RaftTransport } from './transport.js';
import { app, Recorder } from './test-fixtures.js';

/** Sends a message every 20 ms (as a leader's heartbeats would) until `cond` holds. */
async function sendUntil(t: RaftTransport, what: string, cond: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (let i = 1000; !cond(); i++) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    t.send([app(i)]);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a peer that stopped cleanly is reported unreachable; its restart on the same address is reached', async () => {
  const a = new RaftTransport({ id: 1, listen: '127.0.0.1:0' });
  const ra = new Recorder();
  await a.start(ra);
  let b = new RaftTransport({ id: 2, listen: '127.0.0.1:0' });
  const rb = new Recorder();
  await b.start(rb);
  const addr = b.address;
  try {
    a.setPeer(2, addr);
    await sendUntil(a, 'the first delivery', () => rb.received.length > 0);
    await b.stop();
    const before = rb.received.length;
    await sendUntil(a, 'the stopped peer to be reported', () => ra.unreachables.includes(2));
    assert.equal(rb.received.length, before, 'a stopped transport delivers nothing more');

    b = new RaftTransport({ id: 2, listen: addr });
    const rb2 = new Recorder();
    await b.start(rb2);
    await sendUntil(a, 'the restarted peer to receive', () => rb2.received.length > 0);
    assert.ok(a.peerStats(2)!.streamFailures >= 1);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('stopping a transport on a shared server ends its incoming streams', async () => {
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  const b = new RaftTransport({ id: 2, server });
  const rb = new Recorder();
  await b.start(rb);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const a = new RaftTransport({ id: 1, listen: '127.0.0.1:0' });
  const ra = new Recorder();
  await a.start(ra);
  try {
    a.setPeer(2, `127.0.0.1:${port}`);
    await sendUntil(a, 'the first delivery', () => rb.received.length > 0);
    await b.stop();
    const before = rb.received.length;
    // The sender's stream ends at once (not when the owner of the server gets round to it)...
    await sendUntil(a, 'the sender to see the stream end', () => ra.unreachables.includes(2), 2000);
    assert.equal(rb.received.length, before, 'a stopped transport delivers nothing more');
    // ...so the owner's graceful shutdown is not held up by Raft streams that never end by themselves.
    const outcome = await Promise.race([
      new Promise<string>((resolve) => server.tryShutdown(() => resolve('closed'))),
      new Promise<string>((resolve) => setTimeout(() => resolve('still open after 1 s'), 1000)),
    ]);
    assert.equal(outcome, 'closed');
  } finally {
    await a.stop();
    server.forceShutdown();
  }
});
