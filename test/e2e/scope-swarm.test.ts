// A swarm-wide macvlan network with per-node settings (issue #20), on a 2-host lab (node1 manager,
// node2 worker), as Docker's `--config-only` / `--scope swarm --config-from`: each host holds a
// config-only network `mvcfg` (the lab's underlay subnet, parent eth0, a range of its own); the manager
// makes `mvswarm` from it; a service's two tasks, one per host, get their addresses from their own
// host's range (given out by the node, not the managers) and ping each other across the underlay.
// Refusals: --config-from with --subnet, a container on the config-only network, `network rm` of the
// config-only network while the swarm network uses it, and a task on a node with no config-only network
// of the name (rejected, the reason in `service ps`). The lab goes also when the test fails.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labNames } from '../../deploy/lab/names.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import { createTestLab, isRoot, psJson, running, swl, waitFor } from './harness.js';

/** `network ls` rows as "name driver scope". */
const networkRows = async (h: LabHostState) =>
  (await swl(h, ['network', 'ls'])).stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/).slice(1).join(' '));

test(
  'macvlan --scope swarm --config-from: per-node ranges, a service across two hosts',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const start = Date.now();
    const mark = (what: string) => t.diagnostic(`${what}: ${((Date.now() - start) / 1000).toFixed(1)} s`);
    const lab = await createTestLab(t, 2, 1);
    mark('lab up');
    const [n1, n2] = lab.hosts as [LabHostState, LabHostState];
    const subnet = labNames(lab.name, lab.subnetIndex).subnet; // the hosts' /24 on eth0
    const base = subnet.replace(/\.0\/24$/, '');
    const ranges = [`${base}.128/28`, `${base}.144/28`];
    for (const [i, h] of [n1, n2].entries()) {
      await swl(h, [
        'network',
        'create',
        '--config-only',
        '--subnet',
        subnet,
        '--ip-range',
        ranges[i]!,
        '-o',
        'parent=eth0',
        '-o',
        'macvlan_mode=bridge',
        'mvcfg',
      ]);
      assert.ok((await networkRows(h)).includes('mvcfg null local'), `${h.hostname} lists mvcfg`);
    }
    // Settings belong to the config-only network: with --config-from they are refused.
    const both = await swl(
      n1,
      [
        'network',
        'create',
        '-d',
        'macvlan',
        '--scope',
        'swarm',
        '--config-from',
        'mvcfg',
        '--subnet',
        subnet,
        'x',
      ],
      2,
    );
    assert.match(both.stderr, /--config-from mvcfg and --subnet\/--gateway\/--ip-range are exclusive/);
    // A container cannot use the config-only network itself.
    const direct = await swl(
      n2,
      ['run', '-d', '--name', 'direct', '--network', 'mvcfg', 'host', 'sleep', '60'],
      1,
    );
    assert.match(direct.stderr, /configuration-only network/);

    await swl(n1, [
      'network',
      'create',
      '-d',
      'macvlan',
      '--scope',
      'swarm',
      '--config-from',
      'mvcfg',
      '--attachable',
      'mvswarm',
    ]);
    assert.ok((await networkRows(n1)).includes('mvswarm macvlan swarm'));
    // Standalone containers cannot join it yet (services can): refused by name, not half made.
    const run = await swl(
      n2,
      ['run', '-d', '--name', 'mvctr', '--network', 'mvswarm', 'host', 'sleep', '60'],
      1,
    );
    assert.match(
      run.stderr,
      /mvswarm is a macvlan network of the swarm: standalone containers cannot attach/,
    );
    await swl(n1, [
      'service',
      'create',
      '-d',
      '--name',
      'mv',
      '--replicas',
      '2',
      '--network',
      'mvswarm',
      'host',
      'sleep',
      'infinity',
    ]);
    const tasks = await waitFor('2 mv tasks running on 2 hosts', 120_000, async () => {
      const r = running(await psJson(n1, 'mv'));
      return r.length === 2 && new Set(r.map((x) => x.nodeId)).size === 2 ? r : undefined;
    });
    mark('mv tasks running');
    // The worker lists the swarm network of its task, as Docker's does.
    assert.ok((await networkRows(n2)).includes('mvswarm macvlan swarm'), 'node2 lists mvswarm');
    const [node1] = JSON.parse((await swl(n1, ['node', 'inspect', 'self'])).stdout) as { id: string }[];
    // The managers gave no address: the attachment is there, empty; the node gave one from its range.
    const mvswarm = JSON.parse((await swl(n1, ['network', 'inspect', 'mvswarm'])).stdout) as {
      id: string;
      ipam: unknown[];
      vni: number;
    }[];
    assert.deepEqual([mvswarm[0]!.ipam, mvswarm[0]!.vni], [[], 0]);
    const addresses = new Map<string, string>();
    for (const task of tasks) {
      assert.deepEqual(task.networks, [{ networkId: mvswarm[0]!.id, addresses: [], aliases: [] }]);
      const ref = `mv.${task.slot}`;
      const out = (await swl(n1, ['exec', ref, '--', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']))
        .stdout;
      const ip = /inet (\d+\.\d+\.\d+\.\d+)\/24/.exec(out)?.[1];
      assert.ok(ip, `${ref} has an address on eth0: ${out}`);
      const last = Number(ip.split('.')[3]);
      const onNode1 = task.nodeId === node1!.id;
      const [lo, hi] = onNode1 ? [128, 144] : [144, 160];
      assert.ok(
        ip.startsWith(`${base}.`) && last >= lo && last < hi,
        `${ref} (${onNode1 ? 'node1' : 'node2'}): ${ip}`,
      );
      addresses.set(ref, ip);
    }
    const [a, b] = [...addresses.entries()];
    for (const [from, to] of [
      [a!, b!],
      [b!, a!],
    ]) {
      await waitFor(`${from[0]} pings ${to[0]} (${to[1]})`, 60_000, async () => {
        const r = await swl(n1, ['exec', from[0], '--', 'ping', '-c', '1', '-W', '2', to[1]]).catch(
          () => undefined,
        );
        return r ? true : undefined;
      });
    }

    mark('pings answered');
    // The config-only network cannot go while the swarm network uses it (on the manager, from the
    // store; on the worker, from the networks of its tasks).
    for (const h of [n1, n2]) {
      const inUse = await swl(h, ['network', 'rm', 'mvcfg'], 1);
      assert.match(
        inUse.stderr,
        /configuration network mvcfg is in use by swarm network mvswarm/,
        h.hostname,
      );
    }

    // A node without the config-only network rejects the task, saying why.
    await swl(n1, [
      'network',
      'create',
      '-d',
      'macvlan',
      '--scope',
      'swarm',
      '--config-from',
      'nocfg',
      'mvbad',
    ]);
    await swl(n1, [
      'service',
      'create',
      '-d',
      '--name',
      'bad',
      '--network',
      'mvbad',
      '--constraint',
      `node.id==${node1!.id}`,
      'host',
      'sleep',
      'infinity',
    ]);
    const rejected = await waitFor('a bad task rejected', 90_000, async () =>
      (await psJson(n1, 'bad')).find((x) => x.status.state === 'rejected'),
    );
    assert.match(rejected.status.err, /this node has no config-only network nocfg/);
    mark('bad task rejected');

    // Once no service uses it, the swarm network goes, and then the config-only network may.
    await swl(n1, ['service', 'rm', 'mv', 'bad']);
    await waitFor('mvswarm removable', 90_000, async () =>
      (await swl(n1, ['network', 'rm', 'mvswarm']).catch(() => undefined)) ? true : undefined,
    );
    mark('mvswarm removed');
    await swl(n1, ['network', 'rm', 'mvbad']);
    await swl(n1, ['network', 'rm', 'mvcfg']);
    assert.ok(!(await networkRows(n1)).some((r) => r.startsWith('mvcfg ')));
  },
);
