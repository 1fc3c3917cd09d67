// The bridge driver's pure planner: (desired network or leg, the node's links as observed) → the steps
// that make the kernel match. A finished device is left alone; a half-made one (an interrupted step)
// is removed and made again; a device of the same name that is not the driver's is refused, never
// touched.
import { cmd, inSandbox, ipDel, NODE, type Command } from '../commands.js';
import { NetworkDriverError } from '../driver.js';
import {
  bridgeLabel,
  legLabel,
  parseBridgeLabel,
  parseLegLabel,
  tempBridgeName,
  tempLegName,
} from './names.js';
import type { DesiredBridge, DesiredLeg, ObservedLink, Step } from './types.js';

const ip = (...args: string[]): Command => cmd('ip', NODE, ...args);

/** The network's bridge: made with its label, gateway addresses, MTU, up. */
export function planBridge(want: DesiredBridge, links: readonly ObservedLink[]): Step[] {
  const have = links.find((l) => l.ifName === want.bridge);
  if (have && (have.kind !== 'bridge' || parseBridgeLabel(want.owner, have.alias) !== want.networkId)) {
    throw new NetworkDriverError(
      `interface ${want.bridge} already exists on this node and is not the bridge of network ${want.networkId}`,
    );
  }
  const steps: Step[] = [];
  if (!have) {
    // Born under a temporary name and renamed once labelled (`ip link add` ignores `alias`), so an
    // interrupted step never leaves an unlabeled device under the final name.
    const tmp = tempBridgeName(want.networkId);
    steps.push({
      why: `make bridge ${want.bridge}`,
      commands: [
        ipDel(NODE, 'link', 'del', tmp),
        ip('link', 'add', 'name', tmp, 'mtu', `${want.mtu}`, 'type', 'bridge'),
        ip('link', 'set', tmp, 'alias', bridgeLabel(want.owner, want.networkId)),
        ip('link', 'set', tmp, 'name', want.bridge),
      ],
    });
  } else if (have.mtu !== want.mtu) {
    steps.push({
      why: `set ${want.bridge}'s MTU`,
      commands: [ip('link', 'set', want.bridge, 'mtu', `${want.mtu}`)],
    });
  }
  const present = have?.addresses ?? [];
  const add = want.addresses.filter((a) => !present.includes(a));
  const drop = present.filter((a) => !want.addresses.includes(a));
  if (add.length + drop.length > 0) {
    steps.push({
      why: `gateway addresses on ${want.bridge}`,
      commands: [
        ...drop.map((a) => ipDel(NODE, 'addr', 'del', a, 'dev', want.bridge)),
        ...add.map((a) => ip('addr', 'add', a, 'dev', want.bridge)),
      ],
    });
  }
  if (!have?.up)
    steps.push({ why: `bring ${want.bridge} up`, commands: [ip('link', 'set', want.bridge, 'up')] });
  return steps;
}

const labelOf = (leg: DesiredLeg): string =>
  legLabel(leg.owner, {
    networkId: leg.networkId,
    endpointId: leg.endpointId,
    ifName: leg.ifName,
    address: leg.address,
    gateway: leg.gateway ?? '-',
  });

/**
 * One endpoint's leg: a veth labelled before it takes its name, its sandbox end set up (MAC, address, up, default route),
 * and put on the bridge (hairpin on) and up as the last steps, so a leg on its bridge and up is a
 * finished one.
 */
export function planLeg(leg: DesiredLeg, links: readonly ObservedLink[]): Step[] {
  const label = labelOf(leg);
  const have = links.find((l) => l.ifName === leg.hostIf);
  if (have && have.alias === label && have.master === leg.bridge && have.up) return [];
  if (have && parseLegLabel(leg.owner, have.alias)?.endpointId !== leg.endpointId) {
    throw new NetworkDriverError(
      `interface ${leg.hostIf} already exists on this node and is not endpoint ${leg.endpointId}'s`,
    );
  }
  const stale = links.filter((l) => parseLegLabel(leg.owner, l.alias)?.endpointId === leg.endpointId);
  const sb = inSandbox(leg.sandboxPath);
  const steps: Step[] = [];
  if (stale.length > 0) {
    steps.push({
      why: `remove the unfinished or outdated leg of endpoint ${leg.endpointId}`,
      commands: stale.map((l) => ipDel(NODE, 'link', 'del', l.ifName)),
    });
  }
  const mtu = `${leg.mtu}`;
  // Labelled under a temporary name first, as the bridge is; its sandbox end goes with it if removed.
  const tmp = tempLegName(leg.endpointId);
  steps.push({
    why: `plug endpoint ${leg.endpointId} into ${leg.bridge} as ${leg.ifName} ${leg.address}`,
    commands: [
      ipDel(NODE, 'link', 'del', tmp),
      ip(
        'link',
        'add',
        'name',
        tmp,
        'mtu',
        mtu,
        'type',
        'veth',
        'peer',
        'name',
        leg.ifName,
        'mtu',
        mtu,
        'netns',
        leg.sandboxPath,
      ),
      ip('link', 'set', tmp, 'alias', label),
      ip('link', 'set', tmp, 'name', leg.hostIf),
      cmd('ip', sb, 'link', 'set', 'lo', 'up'),
      cmd('ip', sb, 'link', 'set', leg.ifName, 'address', leg.mac),
      cmd('ip', sb, 'addr', 'add', leg.address, 'dev', leg.ifName),
      cmd('ip', sb, 'link', 'set', leg.ifName, 'up'),
      ...(leg.gateway
        ? [cmd('ip', sb, 'route', 'replace', 'default', 'via', leg.gateway, 'dev', leg.ifName)]
        : []),
      // Hairpin: a container reaching its own published port comes back out of the port it went in by.
      ip('link', 'set', leg.hostIf, 'master', leg.bridge),
      cmd('bridge', NODE, 'link', 'set', 'dev', leg.hostIf, 'hairpin', 'on'),
      ip('link', 'set', leg.hostIf, 'up'),
    ],
  });
  return steps;
}

/** Unplugs an endpoint (its sandbox end goes with the node's end). */
export function planLeave(
  owner: string,
  networkId: string,
  endpointId: string,
  links: readonly ObservedLink[],
): Step[] {
  const legs = links.filter((l) => {
    const label = parseLegLabel(owner, l.alias);
    return label?.networkId === networkId && label.endpointId === endpointId;
  });
  return legs.length === 0
    ? []
    : [
        {
          why: `unplug endpoint ${endpointId}`,
          commands: legs.map((l) => ipDel(NODE, 'link', 'del', l.ifName)),
        },
      ];
}

/**
 * Removes a network's legs and bridge (`networkId` undefined: every network's, for removeAll). Only
 * devices carrying the driver's labels are touched.
 */
export function planRemove(
  owner: string,
  networkId: string | undefined,
  links: readonly ObservedLink[],
): Step[] {
  const mine = (net: string | undefined) =>
    net !== undefined && (networkId === undefined || net === networkId);
  const legs = links.filter((l) => mine(parseLegLabel(owner, l.alias)?.networkId));
  const bridges = links.filter((l) => l.kind === 'bridge' && mine(parseBridgeLabel(owner, l.alias)));
  const steps: Step[] = [];
  if (legs.length > 0) {
    steps.push({
      why: 'unplug the remaining legs',
      commands: legs.map((l) => ipDel(NODE, 'link', 'del', l.ifName)),
    });
  }
  for (const b of bridges)
    steps.push({ why: `remove bridge ${b.ifName}`, commands: [ipDel(NODE, 'link', 'del', b.ifName)] });
  return steps;
}
