// Node certificates renew before they expire: a swarm made with a short --cert-expiry keeps working
// past the first certificates' expiry, on new certificates (same node id, new serial and key), over
// existing connections and over new ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from '../../daemon/client.js';
import type { NodeView } from '../../cli/objects.js';
import { labSignal, labStart } from '../../deploy/lab/lab.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import { createTestLab, isRoot, swl, waitFor } from './harness.js';

const certOf = (h: LabHostState) =>
  new X509Certificate(readFileSync(join(h.dataRoot, 'certificates', 'swarm-node.crt'), 'utf8'));

/** The applied index a manager reports in `info` ("... applied N"). */
const appliedOf = (info: { raftStatus: string }) => Number(/applied (\d+)/.exec(info.raftStatus)?.[1] ?? 0);

/** Certificate validity. A daemon's restart beside a busy machine has taken well over 20 s. */
const EXPIRY_S = 60;

const inspect = async (on: LabHostState, node: string) =>
  (JSON.parse((await swl(on, ['node', 'inspect', node])).stdout) as NodeView[])[0]!;

test(
  'certificates renew at half-life; the swarm outlives the first ones',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const lab = await createTestLab(t, 4, 0);
    const hosts = lab.hosts as [LabHostState, LabHostState, LabHostState, LabHostState];
    const [leader, m2, m3, worker] = hosts;
    // Short enough to outlive within the test, long enough for a restart on a loaded machine (below).
    await swl(leader, ['init', '--advertise-addr', leader.address, '--cert-expiry', `${EXPIRY_S}s`]);
    const workerToken = (await swl(leader, ['join-token', '-q', 'worker'])).stdout.trim();
    const managerToken = (await swl(leader, ['join-token', '-q', 'manager'])).stdout.trim();
    for (const m of [m2, m3]) await swl(m, ['join', '--token', managerToken, leader.address]);
    await swl(worker, ['join', '--token', workerToken, leader.address]);
    const first = hosts.map(certOf);
    const expiresAt = Math.max(...first.map((c) => Date.parse(c.validTo)));

    for (const [i, host] of hosts.entries()) {
      const cert = first[i]!;
      const renewed = await waitFor(
        `${host.hostname}'s certificate renewed`,
        2 * EXPIRY_S * 1000,
        async () => {
          const now = certOf(host);
          return now.serialNumber !== cert.serialNumber ? now : undefined;
        },
      );
      assert.equal(renewed.subject, cert.subject, 'same node id and role');
      assert.ok(Date.parse(renewed.validTo) > Date.parse(cert.validTo));
      assert.ok(!renewed.publicKey.equals(cert.publicKey), 'a new key');
    }

    // Past the first certificates' expiry (plus a heartbeat grace) everything still talks: sessions,
    // and Raft among the managers (a write needs a quorum).
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 3_000));
    const nodes = JSON.parse((await swl(leader, ['node', 'ls', '--format', 'json'])).stdout) as NodeView[];
    assert.deepEqual(
      nodes.map((n) => n.status.state),
      ['ready', 'ready', 'ready', 'ready'],
    );
    await swl(m2, ['node', 'update', '--label-add', 'renewed=yes', 'node4']);
    assert.equal((await inspect(m3, 'node4')).spec.labels.renewed, 'yes');

    // New connections after the expiry: a restarted manager is dialled with renewed certificates only
    // (an expired one fails its TLS check), and it catches up on what it missed. A node back with an
    // expired certificate of its own cannot renew with it (as in SwarmKit, it must join again), so the
    // manager is stopped right after a renewal: its downtime has a whole lifetime to fit in.
    const held = certOf(m3).serialNumber;
    await waitFor("node3's next renewal", 2 * EXPIRY_S * 1000, async () =>
      certOf(m3).serialNumber !== held ? true : undefined,
    );
    await labSignal(lab.name, m3.hostname, 'SIGTERM');
    await swl(leader, ['node', 'update', '--label-add', 'while=down', 'node4']);
    const leaderInfo = await withDaemon(`unix://${leader.socket}`, (c) => c.info({}, 2_000));
    const committed = appliedOf(leaderInfo);
    await labStart(lab.name, m3.hostname);
    await waitFor('the restarted manager caught up over fresh connections', 60_000, async () => {
      const node3 = await inspect(leader, 'node3');
      const info = await withDaemon(`unix://${m3.socket}`, (c) => c.info({}, 2_000));
      const reachable = node3.managerStatus?.reachability === 'reachable';
      return reachable && appliedOf(info) >= committed ? true : undefined;
    });
    assert.equal((await swl(leader, ['join-token', '-q', 'worker'])).stdout.trim(), workerToken);
  },
);
