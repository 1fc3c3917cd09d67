// Forming a VM lab's swarm over SSH, with the CLI on each VM as a user would type it: init on node1,
// join node2 ... nodeM as managers and the rest as workers (one at a time), then wait until every
// node is Ready.
import { UserError } from '../../lib/errors.js';
import type { Accel, VmPlan } from './plan.js';
import { sshRun, type SshAccess } from './vms.js';

interface NodeRow {
  description: { hostname: string };
  status: { state: string };
}

/**
 * `swarmlite init` on the first VM. Emulated VMs (TCG) beat every 5 s, Docker's default, instead of
 * swarmlite's 1 s: in test/vm/encrypted-overlay.sh's first run a one-vCPU emulated VM sending iperf3
 * through ESP (AES emulated too) missed the 3 s grace of a 1 s beat again and again, and its tasks were
 * rescheduled under the running test. With KVM a VM keeps the swarm's own 1 s.
 */
export function vmInitArgs(address: string, accel: Accel): string[] {
  return [
    ...['swarmlite', 'init', '--advertise-addr', address],
    ...(accel === 'kvm' ? [] : ['--dispatcher-heartbeat', '5s']),
  ];
}

export async function formVmSwarm(
  access: SshAccess,
  vms: VmPlan[],
  managers: number,
  accel: Accel,
  timeoutMs = 900_000,
): Promise<void> {
  const [first, ...rest] = vms;
  if (!first) return;
  await sshRun(access, first, vmInitArgs(first.address, accel));
  const token = async (role: string) =>
    (await sshRun(access, first, ['swarmlite', 'join-token', '-q', role])).trim();
  const tokens = { manager: await token('manager'), worker: await token('worker') };
  for (const [i, vm] of rest.entries()) {
    const role = i + 2 <= managers ? 'manager' : 'worker';
    await sshRun(access, vm, [
      'swarmlite',
      'join',
      '--token',
      tokens[role],
      '--advertise-addr',
      vm.address,
      `${first.address}:2377`,
    ]);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = JSON.parse(
      await sshRun(access, first, ['swarmlite', 'node', 'ls', '--format', 'json']),
    ) as NodeRow[];
    const ready = nodes.filter((n) => n.status.state === 'ready').length;
    if (ready === vms.length) return;
    if (Date.now() > deadline) {
      throw new UserError(
        `the lab's swarm did not converge: ${ready} of ${vms.length} nodes Ready after ${timeoutMs / 1000} s`,
      );
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
