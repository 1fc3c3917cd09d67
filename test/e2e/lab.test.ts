// The one-machine lab end to end: hosts with daemons, an underlay between them, and exact cleanup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemonClient, localInfo } from '../../daemon/client.js';
import { labDown } from '../../deploy/lab/lab.js';
import {
  attachMachine,
  createHostNetwork,
  createSwitch,
  linkExists,
  namespacesWithPrefix,
} from '../../deploy/lab/network.js';
import { labNames } from '../../deploy/lab/names.js';
import { labDir, labRoot, subnetsOf } from '../../deploy/lab/state.js';
import { isRunning, type ProcessRef } from '../../lib/process.js';
import { createTestLab, isRoot, uniqueLabName } from './harness.js';

const pingFrom = (netns: string, address: string) =>
  execFileSync('ip', ['netns', 'exec', netns, 'ping', '-c', '1', '-W', '2', address], { encoding: 'utf8' });

async function assertNothingLeft(name: string, pids: ProcessRef[], hostVeth: string): Promise<void> {
  assert.deepEqual(await namespacesWithPrefix(`${name}-`), [], 'no namespace of the lab may remain');
  assert.equal(await linkExists(hostVeth), false, `link ${hostVeth} must be gone`);
  for (const ref of pids) assert.equal(isRunning(ref), false, `daemon pid ${ref.pid} must be gone`);
  assert.equal(existsSync(labDir(name)), false, 'the lab folder must be gone');
  assert.deepEqual(subnetsOf(name), [], 'the subnet reservation must be released');
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  assert.equal(mounts.includes(labDir(name)), false, 'no mount of the lab may remain');
}

test(
  'a 3-host lab: daemons answer, hosts reach each other, down leaves nothing',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const lab = await createTestLab(t, 3);
    const names = labNames(lab.name, lab.subnetIndex);
    const pids = lab.hosts.map((h) => h.daemon!);

    const infos = await Promise.all(
      lab.hosts.map(async (host) => {
        const client = daemonClient(`unix://${host.socket}`);
        try {
          return await localInfo(client);
        } finally {
          client.close();
        }
      }),
    );
    infos.forEach((info, i) => {
      const host = lab.hosts[i]!;
      assert.equal(info.hostname, host.hostname, 'each daemon runs in its host UTS namespace');
      assert.equal(info.swarmState, 'inactive');
      assert.equal(info.advertiseAddr, host.address);
      assert.equal(info.netnsPrefix, host.prefix);
      assert.equal(info.pid, host.daemon!.pid);
    });
    assert.equal(new Set(infos.map((i) => i.nodeId)).size, 3, 'node ids are distinct');

    for (const from of lab.hosts) {
      for (const to of lab.hosts) {
        if (from !== to) assert.match(pingFrom(from.netns, to.address), /1 received/);
      }
    }
    assert.match(
      execFileSync('ping', ['-c', '1', '-W', '2', lab.hosts[1]!.address], { encoding: 'utf8' }),
      /1 received/,
    );

    assert.equal(await labDown(lab.name), true);
    await assertNothingLeft(lab.name, pids, names.hostVeth);
    assert.equal(await labDown(lab.name), false, 'a second down finds nothing and succeeds');
  },
);

test('down cleans up after an up that crashed half-way', { skip: !isRoot && 'needs root' }, async (t) => {
  // Recreate what `up` leaves when it dies after the network and before any state or daemon:
  // the folder and subnet reservation, the switch, the machine's veth and one host, made by the
  // same functions `up` uses.
  const name = uniqueLabName();
  t.after(() => labDown(name));
  mkdirSync(join(labRoot(), 'subnets'), { recursive: true });
  let k = 0;
  for (; k < 512; k++) {
    try {
      writeFileSync(join(labRoot(), 'subnets', String(k)), name + '\n', { flag: 'wx' });
      break;
    } catch {
      // taken by another lab
    }
  }
  mkdirSync(labDir(name), { recursive: true });
  const names = labNames(name, k);
  await createSwitch(names);
  await attachMachine(names);
  await createHostNetwork(names, 1);

  assert.equal(await labDown(name), true);
  await assertNothingLeft(name, [], names.hostVeth);
});

test(
  'down finishes and leaves nothing when the namespaces are already gone',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    // A teardown interrupted half-way (or a user's own `ip netns del`) leaves state that names
    // namespaces which no longer exist; down must remove the rest, not stop at the first missing one.
    const lab = await createTestLab(t, 2);
    const names = labNames(lab.name, lab.subnetIndex);
    const pids = lab.hosts.map((h) => h.daemon!);
    for (const ns of await namespacesWithPrefix(`${lab.name}-`)) execFileSync('ip', ['netns', 'del', ns]);

    assert.equal(await labDown(lab.name), true);
    await assertNothingLeft(lab.name, pids, names.hostVeth);
    assert.equal(await labDown(lab.name), false, 'a second down finds nothing and succeeds');
  },
);
