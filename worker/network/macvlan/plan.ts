// The macvlan/ipvlan drivers' pure planner: (what a network's parent or an endpoint's leg should be,
// the links of the node's namespace and of the sandbox as observed) → the steps that make the kernel
// match. Devices are the driver's by their labels (names.ts); a device of a wanted name without the
// driver's label is refused, never touched.
import { cmd, inSandbox, ipDel, NODE, type Command } from '../commands.js';
import { NetworkDriverError, type JoinInfo } from '../driver.js';
import { macFromAddress } from '../bridge/names.js';
import type { ObservedLink, Step } from '../bridge/types.js';
import type { KernelFeature } from './kernel.js';
import {
  legLabel,
  parentLabel,
  parseLegLabel,
  parseParentLabel,
  tempLegName,
  tempParentName,
  type LowerKind,
} from './names.js';
import { vlanOf, type LowerSettings } from './settings.js';

const ip = (...args: string[]): Command => cmd('ip', NODE, ...args);

/** What a network's parent takes: nothing (it is there), or a device the driver makes. */
export type ParentWork =
  { make: 'none'; bringUp: boolean } | { make: 'vlan'; base: string; id: number } | { make: 'dummy' };

/** The kernel feature making the parent needs, if any. */
export const featureFor = (work: ParentWork): KernelFeature | undefined =>
  work.make === 'vlan' ? 'vlan' : work.make === 'dummy' ? 'dummy' : undefined;

/**
 * What the parent of a network needs, or a NetworkDriverError: a parent that is there is used as it is
 * (one the driver made for this network is brought up if it is down); a missing `base.N` becomes VLAN N
 * on base, which must exist; a missing dummy is made; any other missing parent is refused.
 */
export function parentWork(
  kind: LowerKind,
  owner: string,
  networkId: string,
  s: LowerSettings,
  links: readonly ObservedLink[],
): ParentWork {
  const have = links.find((l) => l.ifName === s.parent);
  const ours = have !== undefined && parseParentLabel(kind, owner, have.alias) === networkId;
  if (have && s.dummy && !ours) {
    throw new NetworkDriverError(
      `interface ${s.parent} already exists on this node and is not the dummy parent of network ${networkId}`,
    );
  }
  if (have) return { make: 'none', bringUp: ours && !have.up };
  if (s.dummy) return { make: 'dummy' };
  const vlan = vlanOf(s.parent);
  if (!vlan) throw new NetworkDriverError(`parent interface ${s.parent} does not exist on this node`);
  if (!links.some((l) => l.ifName === vlan.base)) {
    throw new NetworkDriverError(
      `parent interface ${s.parent} does not exist on this node, nor does ${vlan.base} to make VLAN ${vlan.id} on`,
    );
  }
  return { make: 'vlan', base: vlan.base, id: vlan.id };
}

/** The steps for the parent: born under a temporary name, labelled, renamed, up. */
export function planParent(
  kind: LowerKind,
  owner: string,
  networkId: string,
  s: LowerSettings,
  work: ParentWork,
): Step[] {
  if (work.make === 'none') {
    return work.bringUp
      ? [{ why: `bring ${s.parent} up`, commands: [ip('link', 'set', s.parent, 'up')] }]
      : [];
  }
  const tmp = tempParentName(networkId);
  const type = work.make === 'vlan' ? ['link', work.base] : [];
  const spec = work.make === 'vlan' ? ['type', 'vlan', 'id', `${work.id}`] : ['type', 'dummy'];
  return [
    {
      why:
        work.make === 'vlan'
          ? `make VLAN ${work.id} on ${work.base} as ${s.parent}`
          : `make dummy parent ${s.parent}`,
      commands: [
        ipDel(NODE, 'link', 'del', tmp),
        ip('link', 'add', ...type, 'name', tmp, ...spec),
        ip('link', 'set', tmp, 'alias', parentLabel(kind, owner, networkId)),
        ip('link', 'set', tmp, 'name', s.parent),
        ip('link', 'set', s.parent, 'up'),
      ],
    },
  ];
}

/** One endpoint joined to a sandbox: a macvlan/ipvlan device on the parent, moved into it. */
export interface DesiredLeg {
  kind: LowerKind;
  owner: string;
  networkId: string;
  endpointId: string;
  parent: string;
  mode: string;
  sandboxPath: string;
  ifName: string;
  address: string;
  /** macvlan only: ipvlan devices share the parent's MAC. */
  mac?: string;
  mtu?: number;
  /** The default route: via the gateway, straight out of the device (ipvlan l3), or none. */
  route?: { via: string } | 'dev';
}

/** What a join is asked for, as the driver has it: the pure leg builders below turn it into a DesiredLeg. */
export interface LegRequest {
  owner: string;
  networkId: string;
  endpointId: string;
  settings: LowerSettings;
  sandboxPath: string;
  ifName: string;
  /** The endpoint's address with its prefix length. */
  address: string;
  /** The gateway of the endpoint's subnet. */
  gateway: string;
  /** The caller wants the sandbox's default route through this network. */
  defaultRoute: boolean;
  /** The endpoint's own MAC, if the caller gave one. */
  mac?: string;
}

/**
 * A macvlan leg: the default route via the subnet's gateway (when asked and the network is not
 * internal); the endpoint's MAC, else Docker's 02:42:<address>, except in passthru mode, where the one
 * device takes over the parent's MAC.
 */
export function macvlanLeg(r: LegRequest): DesiredLeg {
  const s = r.settings;
  const mac = s.mode === 'passthru' ? undefined : (r.mac ?? macFromAddress(r.address));
  return {
    ...lowerDeviceLegBase('macvlan', r),
    ...(mac ? { mac } : {}),
    ...(r.defaultRoute && !s.internal ? { route: { via: r.gateway } } : {}),
  };
}

/** The fields every leg on a lower device has, whichever driver made it: the MAC and route differ. */
export function lowerDeviceLegBase(kind: DesiredLeg['kind'], r: LegRequest): DesiredLeg {
  const s = r.settings;
  return {
    kind,
    owner: r.owner,
    networkId: r.networkId,
    endpointId: r.endpointId,
    parent: s.parent,
    mode: s.mode,
    sandboxPath: r.sandboxPath,
    ifName: r.ifName,
    address: r.address,
    ...(s.mtu !== undefined ? { mtu: s.mtu } : {}),
  };
}

/** What a join tells the caller: the interface, address, MAC, and the default route's next hop if any. */
export function joinInfoOf(leg: DesiredLeg): JoinInfo {
  return {
    ifName: leg.ifName,
    address: leg.address,
    ...(leg.mac ? { mac: leg.mac } : {}),
    ...(leg.route && leg.route !== 'dev' ? { gateway: leg.route.via } : {}),
  };
}

const routeText = (leg: DesiredLeg): string =>
  leg.route === undefined ? '-' : leg.route === 'dev' ? 'dev' : leg.route.via;

const labelOf = (leg: DesiredLeg): string =>
  legLabel(leg.kind, leg.owner, {
    networkId: leg.networkId,
    endpointId: leg.endpointId,
    ifName: leg.ifName,
    address: leg.address,
    gateway: routeText(leg),
  });

const isLegOf =
  (kind: LowerKind, owner: string, networkId: string, endpointId: string) => (l: ObservedLink) => {
    const label = parseLegLabel(kind, owner, l.alias);
    return label?.networkId === networkId && label.endpointId === endpointId;
  };

/**
 * The leg, made in the node's namespace on the parent under a temporary name, labelled, moved into the
 * sandbox, renamed there and set up. A labelled leg of the wanted name that is up is finished; any
 * other device of this endpoint (an interrupted join, a leg set up differently) is removed first.
 */
export function planJoin(
  leg: DesiredLeg,
  nodeLinks: readonly ObservedLink[],
  sandboxLinks: readonly ObservedLink[],
): Step[] {
  const label = labelOf(leg);
  const have = sandboxLinks.find((l) => l.ifName === leg.ifName);
  if (have && have.alias === label && have.up) return [];
  const mine = isLegOf(leg.kind, leg.owner, leg.networkId, leg.endpointId);
  if (have && !mine(have)) {
    throw new NetworkDriverError(
      `interface ${leg.ifName} already exists in sandbox ${leg.sandboxPath} and is not endpoint ${leg.endpointId}'s`,
    );
  }
  const sb = inSandbox(leg.sandboxPath);
  const tmp = tempLegName(leg.kind, leg.endpointId);
  const steps: Step[] = [];
  const stale = [
    ...nodeLinks.filter(mine).map((l) => ipDel(NODE, 'link', 'del', l.ifName)),
    ...sandboxLinks.filter(mine).map((l) => ipDel(sb, 'link', 'del', l.ifName)),
  ];
  if (stale.length > 0)
    steps.push({
      why: `remove the unfinished or outdated leg of endpoint ${leg.endpointId}`,
      commands: stale,
    });
  steps.push({
    why: `plug endpoint ${leg.endpointId} into ${leg.parent} (${leg.kind} ${leg.mode}) as ${leg.ifName} ${leg.address}`,
    commands: [
      ipDel(NODE, 'link', 'del', tmp),
      ip(
        'link',
        'add',
        'link',
        leg.parent,
        'name',
        tmp,
        ...(leg.mtu !== undefined ? ['mtu', `${leg.mtu}`] : []),
        'type',
        leg.kind,
        'mode',
        leg.mode,
      ),
      ip('link', 'set', tmp, 'alias', label),
      ip('link', 'set', tmp, 'netns', leg.sandboxPath),
      cmd('ip', sb, 'link', 'set', tmp, 'name', leg.ifName),
      cmd('ip', sb, 'link', 'set', 'lo', 'up'),
      ...(leg.mac ? [cmd('ip', sb, 'link', 'set', leg.ifName, 'address', leg.mac)] : []),
      cmd('ip', sb, 'addr', 'add', leg.address, 'dev', leg.ifName),
      cmd('ip', sb, 'link', 'set', leg.ifName, 'up'),
      ...(leg.route === 'dev'
        ? [cmd('ip', sb, 'route', 'replace', 'default', 'dev', leg.ifName)]
        : leg.route
          ? [cmd('ip', sb, 'route', 'replace', 'default', 'via', leg.route.via, 'dev', leg.ifName)]
          : []),
    ],
  });
  return steps;
}

/** Unplugs an endpoint: its device in the sandbox (when the sandbox is still there) and any leftover on the node. */
export function planLeave(
  kind: LowerKind,
  owner: string,
  networkId: string,
  endpointId: string,
  nodeLinks: readonly ObservedLink[],
  sandbox?: { path: string; links: readonly ObservedLink[] },
): Step[] {
  const mine = isLegOf(kind, owner, networkId, endpointId);
  const commands = [
    ...(sandbox
      ? sandbox.links.filter(mine).map((l) => ipDel(inSandbox(sandbox.path), 'link', 'del', l.ifName))
      : []),
    ...nodeLinks.filter(mine).map((l) => ipDel(NODE, 'link', 'del', l.ifName)),
  ];
  return commands.length === 0 ? [] : [{ why: `unplug endpoint ${endpointId}`, commands }];
}

/**
 * What a network left on the node (`networkId` undefined: every network's, for removeAll): the parents
 * the driver made and legs left behind by an interrupted join. Only labelled devices are touched;
 * a parent the user gave is never removed.
 */
export function planRemove(
  kind: LowerKind,
  owner: string,
  networkId: string | undefined,
  nodeLinks: readonly ObservedLink[],
): Step[] {
  const wanted = (net: string | undefined) =>
    net !== undefined && (networkId === undefined || net === networkId);
  const legs = nodeLinks.filter((l) => wanted(parseLegLabel(kind, owner, l.alias)?.networkId));
  const parents = nodeLinks.filter((l) => wanted(parseParentLabel(kind, owner, l.alias)));
  const steps: Step[] = [];
  if (legs.length > 0)
    steps.push({
      why: 'remove unfinished legs',
      commands: legs.map((l) => ipDel(NODE, 'link', 'del', l.ifName)),
    });
  for (const p of parents)
    steps.push({
      why: `remove parent ${p.ifName} made for its network`,
      commands: [ipDel(NODE, 'link', 'del', p.ifName)],
    });
  return steps;
}
