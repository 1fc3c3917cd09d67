// Node certificates renew before they expire: a swarm made with a short --cert-expiry keeps working
// past the first certificates' expiry, on a new certificate (same node id, new serial and key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeView } from '../../cli/commands-node.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import { createTestLab, isRoot, swl, waitFor } from './harness.js';

const certOf = (h: LabHostState) =>
  new X509Certificate(readFileSync(join(h.dataRoot, 'certificates', 'swarm-node.crt'), 'utf8'));

test(
  'certificates renew at half-life and the swarm outlives the first ones',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const lab = await createTestLab(t, 2, 0);
    const [manager, worker] = lab.hosts as [LabHostState, LabHostState];
    await swl(manager, ['init', '--advertise-addr', manager.address, '--cert-expiry', '20s']);
    const token = (await swl(manager, ['join-token', '-q', 'worker'])).stdout.trim();
    await swl(worker, ['join', '--token', token, manager.address]);
    const first = { manager: certOf(manager), worker: certOf(worker) };
    const expiresAt = Math.max(Date.parse(first.manager.validTo), Date.parse(first.worker.validTo));

    for (const [host, cert] of [
      [manager, first.manager],
      [worker, first.worker],
    ] as const) {
      const renewed = await waitFor(`${host.hostname}'s certificate renewed`, 25_000, async () => {
        const now = certOf(host);
        return now.serialNumber !== cert.serialNumber ? now : undefined;
      });
      assert.equal(renewed.subject, cert.subject, 'same node id and role');
      assert.ok(Date.parse(renewed.validTo) > Date.parse(cert.validTo));
      assert.ok(!renewed.publicKey.equals(cert.publicKey), 'a new key');
    }

    // Past the first certificates' expiry (plus a heartbeat grace) everything still talks.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 3_000));
    const nodes = JSON.parse((await swl(manager, ['node', 'ls', '--format', 'json'])).stdout) as NodeView[];
    assert.deepEqual(nodes.map((n) => n.status.state).sort(), ['ready', 'ready']);
    assert.equal((await swl(manager, ['join-token', '-q', 'worker'])).stdout.trim(), token);
  },
);
