// One network's sandbox on this node: the namespace, br0 with the subnets' gateways, vxlan0, the local
// tasks' veth legs and the remote peers' static neighbor and FDB entries (DESIGN.md §5).
import { containsAddress, parseAddress, parseCidr } from '../../../lib/ipv4.js';
import { bridge, inSandbox, inTask, ip, ipDel, NETNS_NAMES, NODE } from './commands.js';
import {
  awaitingAdoption,
  networkMtu,
  sandboxesWanted,
  withPrefixOf,
  type DesiredEndpoint,
  type PlanContext,
} from './desired.js';
import {
  formatLegLabel,
  macFromIp,
  SANDBOX_BRIDGE,
  SANDBOX_VXLAN,
  sandboxLegName,
  tempVxlanName,
  VXLAN_PORT,
} from './names.js';
import type { ObservedSandbox, OverlayDesiredState, OverlayNetwork, RemotePeer, Step } from './types.js';

const BR = SANDBOX_BRIDGE;
const VX = SANDBOX_VXLAN;

/** The steps for the sandbox named `name`: build or fix it if a local task needs it, else remove it. */
export function planSandbox(
  ctx: PlanContext,
  desired: OverlayDesiredState,
  name: string,
  observed: ObservedSandbox | undefined,
  underlayMtu: number | undefined,
): Step[] {
  const wanted = sandboxesWanted(ctx.prefix, desired).get(name);
  if (!wanted) {
    // A restarted daemon's first syncs see only the tasks re-attached so far: a sandbox whose tasks
    // are still to come back stays (removing it would cut them off, and its vxlan device, torn down
    // asynchronously, would hold the VNI when they come back).
    const awaited = observed?.legs.some((l) => awaitingAdoption(desired, l.label?.taskId));
    return observed && !awaited ? removeSandbox(observed) : [];
  }
  const { network, endpoints } = wanted;
  const mtu = networkMtu(network, underlayMtu);
  const sb = inSandbox(name);
  const steps: Step[] = [];

  if (!observed) {
    steps.push({
      why: `create the sandbox of network ${network.id} (VNI ${network.vni})`,
      required: true,
      commands: [ip(NETNS_NAMES, 'netns', 'add', name), ip(sb, 'link', 'set', 'lo', 'up')],
    });
  }
  steps.push(...bridgeSteps(name, network, mtu, observed));
  const vx = vxlanSteps(ctx, name, network, desired.vtep, mtu, observed);
  steps.push(...vx.steps);
  // A recreated vxlan device starts without entries.
  const current = vx.recreated ? { neighbors: [], fdb: [] } : (observed ?? { neighbors: [], fdb: [] });
  steps.push(...peerSteps(name, network, desired, endpoints, current));
  steps.push(...legSteps(name, mtu, desired, endpoints, observed));
  return steps;
}

function removeSandbox(observed: ObservedSandbox): Step[] {
  const sb = inSandbox(observed.netns);
  return [
    {
      why: `no local task is on VNI ${observed.vni} any more: remove its sandbox`,
      // Devices go one by one before the name: the kernel tears a namespace down asynchronously (and
      // not at all while something still holds it), and until then the vxlan device would keep its
      // VNI taken in the node's namespace and the tasks would keep their legs.
      commands: [
        ipDel(sb, 'link', 'del', VX),
        ...observed.legs.map((l) => ipDel(sb, 'link', 'del', l.ifName)),
        ip(NETNS_NAMES, 'netns', 'del', observed.netns),
      ],
    },
  ];
}

function bridgeSteps(
  name: string,
  network: OverlayNetwork,
  mtu: number,
  observed: ObservedSandbox | undefined,
): Step[] {
  const sb = inSandbox(name);
  const want = network.subnets.map((s) => withPrefixOf(s.gateway, s.subnet));
  const have = observed?.bridge;
  if (!have) {
    return [
      {
        why: `${BR} holds the gateway${want.length > 1 ? 's' : ''} ${want.join(', ')}`,
        required: true,
        commands: [
          ip(sb, 'link', 'add', BR, 'mtu', String(mtu), 'type', 'bridge'),
          ...want.map((a) => ip(sb, 'addr', 'add', a, 'dev', BR)),
          ip(sb, 'link', 'set', BR, 'up'),
        ],
      },
    ];
  }
  const commands = [
    ...have.addresses.filter((a) => !want.includes(a)).map((a) => ip(sb, 'addr', 'del', a, 'dev', BR)),
    ...want.filter((a) => !have.addresses.includes(a)).map((a) => ip(sb, 'addr', 'add', a, 'dev', BR)),
    ...(have.mtu !== mtu ? [ip(sb, 'link', 'set', BR, 'mtu', String(mtu))] : []),
    ...(!have.up ? [ip(sb, 'link', 'set', BR, 'up')] : []),
  ];
  return commands.length ? [{ why: `fix ${BR}`, required: true, commands }] : [];
}

function vxlanSteps(
  ctx: PlanContext,
  name: string,
  network: OverlayNetwork,
  vtep: string,
  mtu: number,
  observed: ObservedSandbox | undefined,
): { steps: Step[]; recreated: boolean } {
  const sb = inSandbox(name);
  const have = observed?.vxlan;
  const steps: Step[] = [];
  const fits =
    have &&
    have.vni === network.vni &&
    have.local === vtep &&
    have.port === VXLAN_PORT &&
    !have.learning &&
    have.proxy;
  if (have && !fits) {
    steps.push({
      why: `${VX} does not match VNI ${network.vni} from ${vtep}: recreate it`,
      required: true,
      commands: [ip(sb, 'link', 'del', VX)],
    });
  }
  if (!fits) {
    const tmp = tempVxlanName(ctx.prefix, network.vni);
    steps.push(
      {
        why:
          `${VX} (VNI ${network.vni}): made in the node's namespace, so its UDP socket on ${VXLAN_PORT} ` +
          `lives on the underlay, then moved into the sandbox`,
        required: true,
        nodeExclusive: true,
        commands: [
          ipDel(NODE, 'link', 'del', tmp),
          ip(
            NODE,
            'link',
            'add',
            tmp,
            'mtu',
            String(mtu),
            'type',
            'vxlan',
            'id',
            String(network.vni),
            'dstport',
            String(VXLAN_PORT),
            'local',
            vtep,
            'nolearning',
            'proxy',
          ),
          ip(NODE, 'link', 'set', 'dev', tmp, 'netns', name, 'name', VX),
        ],
      },
      {
        why: `plug ${VX} into ${BR}`,
        required: true,
        commands: [ip(sb, 'link', 'set', VX, 'master', BR, 'up')],
      },
    );
    return { steps, recreated: true };
  }
  const commands = [
    ...(have.mtu !== mtu ? [ip(sb, 'link', 'set', VX, 'mtu', String(mtu))] : []),
    ...(have.master !== BR || !have.up ? [ip(sb, 'link', 'set', VX, 'master', BR, 'up')] : []),
  ];
  if (commands.length) steps.push({ why: `fix ${VX}`, required: true, commands });
  return { steps, recreated: false };
}

/** The remote peers to program: in one of the network's subnets, on another node, not a local task. */
function wantedPeers(
  network: OverlayNetwork,
  desired: OverlayDesiredState,
  endpoints: DesiredEndpoint[],
): Map<string, { mac: string; vtep: string }> {
  const subnets = network.subnets.map((s) => parseCidr(s.subnet)).filter((c) => typeof c !== 'string');
  const local = new Set(endpoints.map((e) => e.ip));
  const out = new Map<string, { mac: string; vtep: string }>();
  const peers = desired.peers
    .filter((p: RemotePeer) => p.networkId === network.id && p.vtep !== desired.vtep && !local.has(p.ip))
    .sort((a, b) => (a.ip === b.ip ? a.vtep.localeCompare(b.vtep) : a.ip.localeCompare(b.ip)));
  for (const p of peers) {
    const addr = parseAddress(p.ip);
    if (typeof addr === 'string' || !subnets.some((c) => containsAddress(c, addr))) continue;
    // Two announcements of one address (a task moving between nodes): the first in order wins, the
    // same on every node, until gossip settles.
    if (!out.has(p.ip)) out.set(p.ip, { mac: (p.mac ?? macFromIp(p.ip)).toLowerCase(), vtep: p.vtep });
  }
  return out;
}

function peerSteps(
  name: string,
  network: OverlayNetwork,
  desired: OverlayDesiredState,
  endpoints: DesiredEndpoint[],
  current: Pick<ObservedSandbox, 'neighbors' | 'fdb'>,
): Step[] {
  const sb = inSandbox(name);
  const want = wantedPeers(network, desired, endpoints);
  const wantMacs = new Map([...want.values()].map((p) => [p.mac, p.vtep]));
  const steps: Step[] = [];

  // Leavers first, neighbor before FDB: an address never resolves to a MAC that has nowhere to go.
  for (const n of current.neighbors) {
    if (want.get(n.ip)?.mac !== n.mac) {
      steps.push({ why: `peer ${n.ip} left`, commands: [ipDel(sb, 'neigh', 'del', n.ip, 'dev', VX)] });
    }
  }
  for (const f of current.fdb) {
    if (wantMacs.get(f.mac) !== f.dst) {
      steps.push({
        why: `${f.mac} is no longer at ${f.dst}`,
        commands: [
          { ...bridge(sb, 'fdb', 'del', f.mac, 'dev', VX, 'dst', f.dst, 'self'), okIfAbsent: true },
          // Gone from the overlay altogether: br0 also learned the MAC on its vxlan0 port; forget it
          // now rather than in 5 minutes, in case the address comes back on a local task.
          ...(wantMacs.has(f.mac)
            ? []
            : [{ ...bridge(sb, 'fdb', 'del', f.mac, 'dev', VX, 'master'), okIfAbsent: true }]),
        ],
      });
    }
  }
  for (const [peerIp, p] of want) {
    const commands = [];
    if (!current.fdb.some((f) => f.mac === p.mac && f.dst === p.vtep)) {
      commands.push(bridge(sb, 'fdb', 'append', p.mac, 'dev', VX, 'dst', p.vtep, 'self', 'permanent'));
    }
    if (!current.neighbors.some((n) => n.ip === peerIp && n.mac === p.mac)) {
      commands.push(ip(sb, 'neigh', 'replace', peerIp, 'lladdr', p.mac, 'dev', VX, 'nud', 'permanent'));
    }
    if (commands.length) steps.push({ why: `peer ${peerIp} (${p.mac}) is behind ${p.vtep}`, commands });
  }
  return steps;
}

function legSteps(
  name: string,
  mtu: number,
  desired: OverlayDesiredState,
  endpoints: DesiredEndpoint[],
  observed: ObservedSandbox | undefined,
): Step[] {
  const sb = inSandbox(name);
  const steps: Step[] = [];
  const kept = new Set<string>();
  for (const leg of observed?.legs ?? []) {
    const ep = endpoints.find((e) => e.task.taskId === leg.label?.taskId);
    const complete =
      ep &&
      leg.ifName === sandboxLegName(ep.task.taskId) &&
      leg.label?.taskIf === ep.taskIf &&
      leg.label.address === ep.attachment.address &&
      leg.master === BR &&
      leg.up;
    if (complete) {
      kept.add(ep.task.taskId);
      continue;
    }
    if (!ep && awaitingAdoption(desired, leg.label?.taskId)) continue;
    steps.push({
      why: leg.label
        ? `task ${leg.label.taskId}'s ${leg.label.taskIf} (${leg.label.address}) is gone or changed`
        : `${leg.ifName} is a leftover of an interrupted step`,
      // Deleting one end of a veth pair deletes the other, inside the task.
      commands: [ipDel(sb, 'link', 'del', leg.ifName)],
    });
  }
  for (const ep of endpoints) {
    if (kept.has(ep.task.taskId)) continue;
    const ve = sandboxLegName(ep.task.taskId);
    const task = inTask(ep.task.netnsPath);
    const label = formatLegLabel({
      taskId: ep.task.taskId,
      taskIf: ep.taskIf,
      address: ep.attachment.address,
    });
    const m = String(mtu);
    steps.push({
      why: `task ${ep.task.taskId}: ${ep.taskIf} ${ep.attachment.address}`,
      commands: [
        ip(
          sb,
          'link',
          'add',
          ve,
          'mtu',
          m,
          'type',
          'veth',
          'peer',
          'name',
          ep.taskIf,
          'netns',
          ep.task.netnsPath,
        ),
        ip(sb, 'link', 'set', ve, 'alias', label),
        ip(task, 'link', 'set', ep.taskIf, 'address', macFromIp(ep.ip), 'mtu', m),
        ip(task, 'addr', 'add', ep.attachment.address, 'dev', ep.taskIf),
        ip(task, 'link', 'set', ep.taskIf, 'up'),
        // Last: a leg on br0 and up is a finished one (what the next sync's check relies on).
        ip(sb, 'link', 'set', ve, 'master', BR, 'up'),
      ],
    });
  }
  return steps;
}
