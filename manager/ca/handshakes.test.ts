// Issue 18, fault 8 on the manager port: garbage connections to 2377 are refused without a crash and are
// not invisible: each failed handshake is counted, and the flood is one log line for its source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { rejectCounts, startRejectLogging } from '../../lib/rejects.js';
import { MANAGER_CHANNEL_OPTIONS, clientCredentials } from './credentials.js';
import { HANDSHAKE_REJECT_KIND } from './handshakes.js';
import {
  GuardedClient,
  TEST_CHANNEL_OPTIONS,
  callWhoAmI,
  issueDirect,
  startTestManager,
} from './test-harness.js';

const GARBAGE_CONNECTIONS = 1_000;

/** One TCP connection that sends bytes no TLS server accepts, then hangs up. */
function garbageConnection(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), randomBytes(64)]));
    });
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.resume();
  });
}

test('garbage connections to the manager port are counted and logged once per source; it still serves', async (t) => {
  const m = await startTestManager();
  t.after(() => m.stop());
  const lines: string[] = [];
  const stopLogging = startRejectLogging({ warn: (_fields, msg) => lines.push(msg) }, 60_000);
  t.after(stopLogging);
  const before = rejectCounts()[HANDSHAKE_REJECT_KIND] ?? 0;
  const port = Number(m.addr.split(':')[1]);
  for (let i = 0; i < GARBAGE_CONNECTIONS; i += 50)
    await Promise.all(Array.from({ length: 50 }, () => garbageConnection(port)));

  // The server's side of a connection may close after the client's: wait for the last ones.
  const deadline = Date.now() + 30_000;
  while ((rejectCounts()[HANDSHAKE_REJECT_KIND] ?? 0) - before < GARBAGE_CONNECTIONS && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal((rejectCounts()[HANDSHAKE_REJECT_KIND] ?? 0) - before, GARBAGE_CONNECTIONS);

  stopLogging();
  const ours = lines.filter((l) => l.includes(HANDSHAKE_REJECT_KIND));
  assert.equal(ours.length, 1, JSON.stringify(ours));
  assert.match(
    ours[0]!,
    new RegExp(
      `^rejected ${GARBAGE_CONNECTIONS} ${HANDSHAKE_REJECT_KIND} inputs from 127\\.0\\.0\\.1 .*: TLS handshake on the manager port failed: `,
    ),
  );

  const manager = await issueDirect(m.ca, m.cluster.clusterId, 'manager1', 'manager');
  const client = new GuardedClient(
    m.addr,
    clientCredentials({ caCertPem: m.cluster.caCertPem, ...manager }),
    {
      ...MANAGER_CHANNEL_OPTIONS,
      ...TEST_CHANNEL_OPTIONS,
    },
  );
  t.after(() => client.close());
  assert.deepEqual(await callWhoAmI(client, 10_000), {
    nodeId: 'manager1',
    role: 'manager',
    clusterId: 'testcluster',
  });
});
