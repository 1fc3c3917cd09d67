// The lab's underlay: a switch namespace with a bridge, one namespace per host wired to it by a veth,
// and the machine's own namespace attached too. The bridge lives in its own namespace so that the
// machine's firewall (Docker sets the FORWARD policy to DROP) never sees the lab's bridged frames.
import { run } from '../../lib/exec.js';
import { addNetns, addSwitch, deleteNamespaces, plug } from '../../lib/netns-fixture.js';
import type { labNames } from './names.js';

export { namespacesWithPrefix } from '../../lib/netns-fixture.js';

type Names = ReturnType<typeof labNames>;

async function ipIn(netns: string, args: string[]): Promise<void> {
  await run('ip', ['-n', netns, ...args]);
}

export async function createSwitch(names: Names): Promise<void> {
  await addSwitch(names.switchNetns, names.bridge);
}

export async function createHostNetwork(names: Names, i: number): Promise<void> {
  const host = names.host(i);
  await addNetns(host.netns);
  await plug({
    switchNetns: names.switchNetns,
    bridge: names.bridge,
    port: host.switchPort,
    netns: host.netns,
    ifName: 'eth0',
    address: `${host.address}/24`,
  });
}

/** Attaches the machine's own namespace, so `curl <host address>` works from the shell. */
export async function attachMachine(names: Names): Promise<void> {
  await ipIn(names.switchNetns, [
    'link',
    'add',
    names.hostVethPeer,
    'type',
    'veth',
    'peer',
    'name',
    names.hostVeth,
    'netns',
    '1',
  ]);
  await ipIn(names.switchNetns, ['link', 'set', names.hostVethPeer, 'master', names.bridge, 'up']);
  await run('ip', ['addr', 'add', `${names.machineAddress}/24`, 'dev', names.hostVeth]);
  await run('ip', ['link', 'set', names.hostVeth, 'up']);
}

export async function linkExists(name: string): Promise<boolean> {
  const out = await run('ip', ['-br', 'link', 'show', 'dev', name], { okCodes: [1] }).catch(() => '');
  return out.trim().length > 0;
}

/**
 * Removes every namespace and link the lab (or its daemons) made. Deleting a namespace destroys the
 * veths inside it, and with them their peers, so only the machine-side veth needs a word of its own
 * (it is gone with the switch too, but a crash may have left it unattached).
 */
export async function destroyNetwork(lab: string, hostVeth: string): Promise<void> {
  await deleteNamespaces(`${lab}-`);
  // The kernel removes a deleted namespace's devices (and their peers) in the background: the veth
  // seen a moment ago may be gone by the time it is deleted, which is just as good.
  if (await linkExists(hostVeth)) await run('ip', ['link', 'del', hostVeth], { okIfAbsent: true });
}
