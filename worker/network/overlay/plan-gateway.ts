// The gateway bridge: tasks' way out. Overlay legs carry only their subnets (connected routes); a task
// with at least one non-internal network also gets a leg `gw0` on `<prefix>_gwbridge` in the node's
// namespace, and its default route goes there, masqueraded to the node's address by nftables. This is
// Docker's docker_gwbridge: egress never depends on which overlay network is listed first, and an
// internal-only task has no default route at all. Ports of the bridge are isolated from each other,
// so tasks of different networks cannot meet on it.
import { containsAddress, formatAddress, parseAddress, parseCidr } from '../../../lib/ipv4.js';
import { bridge, inTask, ip, ipDel, NODE } from './commands.js';
import { withPrefixOf, type PlanContext } from './desired.js';
import {
  formatLegLabel,
  gatewayBridgeName,
  gatewayLegName,
  gatewayTableName,
  TASK_GATEWAY_IF,
} from './names.js';
import {
  DEFAULT_GATEWAY_BRIDGE,
  type Command,
  type GatewayBridgeConfig,
  type LocalTask,
  type ObservedGateway,
  type OverlayDesiredState,
  type Step,
} from './types.js';

/** The nftables table of the gateway bridge: masquerade out, and only replies or DNATed flows in. */
function gatewayRuleset(prefix: string, gw: GatewayBridgeConfig): string {
  const table = gatewayTableName(prefix);
  const br = gatewayBridgeName(prefix);
  // Declaring then deleting the table makes `nft -f` replace it whole, in one transaction.
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority 100; policy accept;`,
    `    ip saddr ${gw.subnet} oifname != "${br}" masquerade`,
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority 0; policy accept;`,
    `    oifname "${br}" ct state established,related accept`,
    `    oifname "${br}" ct status dnat accept`,
    `    oifname "${br}" drop`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

const nft = (args: string[], input?: string): Command => ({ tool: 'nft', where: NODE, args, input });

/**
 * Tasks that get a gateway leg: those with at least one attachment to a known, non-internal network,
 * and those plugged in with no network at all (a service with no network that publishes a host-mode
 * port: the leg is its only way in and out, as docker_gwbridge is Docker's); not those whose way out
 * another driver gives (`egress: false`).
 */
function tasksWithEgress(desired: OverlayDesiredState): LocalTask[] {
  const open = new Set(desired.networks.filter((n) => !n.internal).map((n) => n.id));
  return desired.tasks.filter(
    (t) =>
      t.egress !== false && (t.attachments.length === 0 || t.attachments.some((a) => open.has(a.networkId))),
  );
}

export function planGateway(
  ctx: PlanContext,
  desired: OverlayDesiredState,
  observed: ObservedGateway,
  strayTempVxlans: string[],
): Step[] {
  const gw = desired.gatewayBridge ?? DEFAULT_GATEWAY_BRIDGE;
  const br = gatewayBridgeName(ctx.prefix);
  const steps: Step[] = strayTempVxlans.map((name) => ({
    why: `${name} is a vxlan device an interrupted create left in the node's namespace`,
    nodeExclusive: true,
    commands: [ipDel(NODE, 'link', 'del', name)],
  }));
  const tasks = tasksWithEgress(desired);

  if (tasks.length === 0) {
    for (const leg of observed.legs) {
      steps.push({
        why: `task ${leg.label?.taskId} left`,
        commands: [ipDel(NODE, 'link', 'del', leg.ifName)],
      });
    }
    if (observed.bridge) {
      steps.push({
        why: 'no local task needs egress: remove the gateway bridge',
        commands: [ipDel(NODE, 'link', 'del', br)],
      });
    }
    if (observed.nftTable) {
      steps.push({
        why: 'and its masquerade',
        commands: [nft(['delete', 'table', 'inet', gatewayTableName(ctx.prefix)])],
      });
    }
    return steps;
  }

  const gwAddress = withPrefixOf(gw.gateway, gw.subnet);
  if (!observed.bridge) {
    steps.push({
      why: `${br}: the tasks' gateway ${gwAddress}; the node routes and masquerades for them`,
      required: true,
      commands: [
        { tool: 'sysctl', where: NODE, args: ['-q', '-w', 'net.ipv4.ip_forward=1'] },
        ip(NODE, 'link', 'add', br, 'type', 'bridge'),
        ip(NODE, 'addr', 'add', gwAddress, 'dev', br),
        ip(NODE, 'link', 'set', br, 'up'),
      ],
    });
  } else {
    const have = observed.bridge;
    const commands = [
      ...have.addresses.filter((a) => a !== gwAddress).map((a) => ip(NODE, 'addr', 'del', a, 'dev', br)),
      ...(have.addresses.includes(gwAddress) ? [] : [ip(NODE, 'addr', 'add', gwAddress, 'dev', br)]),
      ...(have.up ? [] : [ip(NODE, 'link', 'set', br, 'up')]),
    ];
    if (commands.length) steps.push({ why: `fix ${br}`, required: true, commands });
  }
  const table = observed.nftTable;
  const tableRight =
    table?.masqueradeSource === gw.subnet &&
    ['postrouting', 'forward'].every((c) => table.chains.includes(c));
  if (!tableRight) {
    steps.push({
      why: `masquerade ${gw.subnet} leaving the node; only replies and DNATed flows enter ${br}`,
      required: true,
      commands: [nft(['-f', '-'], gatewayRuleset(ctx.prefix, gw))],
    });
  }
  steps.push(...legSteps(ctx, gw, tasks, observed));
  return steps;
}

function legSteps(
  ctx: PlanContext,
  gw: GatewayBridgeConfig,
  tasks: LocalTask[],
  observed: ObservedGateway,
): Step[] {
  const br = gatewayBridgeName(ctx.prefix);
  const cidr = parseCidr(gw.subnet);
  if (typeof cidr === 'string') throw new RangeError(`gateway bridge: ${cidr}`);
  const inSubnet = (address: string): boolean => {
    const a = parseAddress(address.split('/')[0]);
    return typeof a === 'number' && containsAddress(cidr, a) && address.endsWith(`/${cidr.prefix}`);
  };
  const steps: Step[] = [];
  const kept = new Map<string, string>(); // taskId → address
  const pinned = new Map(tasks.flatMap((t) => (t.gatewayAddress ? [[t.gatewayAddress, t.taskId]] : [])));
  for (const t of tasks) {
    if (t.gatewayAddress && !inSubnet(t.gatewayAddress))
      throw new RangeError(`gateway address ${t.gatewayAddress} of ${t.taskId} is not in ${gw.subnet}`);
  }
  for (const leg of observed.legs) {
    const label = leg.label;
    const task = label && tasks.find((t) => t.taskId === label.taskId);
    const ok =
      label &&
      task &&
      (task.gatewayAddress ?? label.address) === label.address &&
      (pinned.get(label.address) ?? label.taskId) === label.taskId &&
      !kept.has(label.taskId) &&
      label.taskIf === TASK_GATEWAY_IF &&
      inSubnet(label.address) &&
      ![...kept.values()].includes(label.address) &&
      leg.master === br &&
      leg.up;
    if (ok) {
      kept.set(label.taskId, label.address);
      continue;
    }
    steps.push({
      why: label ? `task ${label.taskId}'s gateway leg is gone or changed` : `${leg.ifName} is a leftover`,
      commands: [ipDel(NODE, 'link', 'del', leg.ifName)],
    });
  }

  const used = new Set([gw.gateway, ...[...kept.values(), ...pinned.keys()].map((a) => a.split('/')[0])]);
  let next = cidr.first + 1;
  const taken = new Set(observed.takenNames);
  for (const task of tasks) {
    if (kept.has(task.taskId)) continue;
    let address = task.gatewayAddress;
    if (!address) {
      while (next < cidr.last && used.has(formatAddress(next))) next++;
      if (next >= cidr.last) throw new RangeError(`gateway bridge subnet ${gw.subnet} is full`);
      address = `${formatAddress(next)}/${cidr.prefix}`;
      used.add(formatAddress(next));
    }
    const leg = gatewayLegName(ctx.prefix, task.taskId, taken);
    taken.add(leg);
    const t = inTask(task.netnsPath);
    const label = formatLegLabel({ taskId: task.taskId, taskIf: TASK_GATEWAY_IF, address });
    steps.push({
      why: `task ${task.taskId}: ${TASK_GATEWAY_IF} ${address} on ${br}, default route`,
      commands: [
        // Born inside the task, labeled, then moved out under its final name: a step cut short leaves
        // nothing unlabeled in the node's namespace (only in the task, cleared by the first command).
        ipDel(t, 'link', 'del', TASK_GATEWAY_IF),
        ip(t, 'link', 'add', TASK_GATEWAY_IF, 'type', 'veth', 'peer', 'name', 'gw0-node'),
        ip(t, 'link', 'set', 'gw0-node', 'alias', label),
        ip(t, 'link', 'set', 'gw0-node', 'netns', ctx.nodeNetnsPath, 'name', leg),
        ip(t, 'addr', 'add', address, 'dev', TASK_GATEWAY_IF),
        ip(t, 'link', 'set', TASK_GATEWAY_IF, 'up'),
        ip(t, 'route', 'replace', 'default', 'via', gw.gateway, 'dev', TASK_GATEWAY_IF),
        ip(NODE, 'link', 'set', leg, 'master', br),
        bridge(NODE, 'link', 'set', 'dev', leg, 'isolated', 'on'),
        // Last: on the bridge and up marks a finished leg.
        ip(NODE, 'link', 'set', leg, 'up'),
      ],
    });
  }
  return steps;
}
