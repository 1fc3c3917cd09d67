// The lab's underlay: a switch namespace with a bridge, one namespace per host wired to it by a veth,
// and the machine's own namespace attached too. The bridge lives in its own namespace so that the
// machine's firewall (Docker sets the FORWARD policy to DROP) never sees the lab's bridged frames.
import { run } from '../../lib/exec.js';
import type { labNames } from './names.js';

type Names = ReturnType<typeof labNames>;

async function ipIn(netns: string, args: string[]): Promise<void> {
  await run('ip', ['-n', netns, ...args]);
}

/** Quiet, predictable interfaces: no IPv6 autoconfiguration chatter, no reverse-path surprises. */
async function tuneNamespace(netns: string): Promise<void> {
  for (const [key, value] of [
    ['net.ipv6.conf.all.disable_ipv6', '1'],
    ['net.ipv6.conf.default.disable_ipv6', '1'],
    ['net.ipv4.conf.all.rp_filter', '0'],
    ['net.ipv4.conf.default.rp_filter', '0'],
  ]) {
    await run('sysctl', ['-q', '-w', `${key}=${value}`], { netns });
  }
}

export async function createSwitch(names: Names): Promise<void> {
  await run('ip', ['netns', 'add', names.switchNetns]);
  await tuneNamespace(names.switchNetns);
  await ipIn(names.switchNetns, ['link', 'set', 'lo', 'up']);
  await ipIn(names.switchNetns, ['link', 'add', names.bridge, 'type', 'bridge']);
  await ipIn(names.switchNetns, ['link', 'set', names.bridge, 'up']);
}

export async function createHostNetwork(names: Names, i: number): Promise<void> {
  const host = names.host(i);
  await run('ip', ['netns', 'add', host.netns]);
  await tuneNamespace(host.netns);
  await ipIn(host.netns, ['link', 'set', 'lo', 'up']);
  // Both ends are born inside lab namespaces, so no name is ever taken in the machine's namespace.
  await ipIn(names.switchNetns, [
    'link',
    'add',
    host.switchPort,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    host.netns,
  ]);
  await ipIn(names.switchNetns, ['link', 'set', host.switchPort, 'master', names.bridge, 'up']);
  await ipIn(host.netns, ['addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
  await ipIn(host.netns, ['link', 'set', 'eth0', 'up']);
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

/** Named network namespaces whose names start with `prefix` (the lab's own and its daemons'). */
export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((ns): ns is string => !!ns && ns.startsWith(prefix));
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
  for (const ns of await namespacesWithPrefix(`${lab}-`)) {
    await run('ip', ['netns', 'del', ns], { okIfAbsent: true });
  }
  // The kernel removes a deleted namespace's devices (and their peers) in the background: the veth
  // seen a moment ago may be gone by the time it is deleted, which is just as good.
  if (await linkExists(hostVeth)) await run('ip', ['link', 'del', hostVeth], { okIfAbsent: true });
}
