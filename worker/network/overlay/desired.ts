// What the desired state means for this node, derived once and shared by the planners: which local
// endpoints each network has, which networks need a sandbox, and their MTU.
import { parseAddressWithPrefix, parseCidr } from '../../../lib/ipv4.js';
import { sandboxName, VXLAN_OVERHEAD, ESP_OVERHEAD } from './names.js';
import type { LocalTask, OverlayDesiredState, OverlayNetwork, TaskAttachment } from './types.js';

export interface PlanContext {
  /** The daemon's netns prefix (daemon/options.ts). */
  prefix: string;
  /** Path of the node's own network namespace, where gateway legs are moved to. */
  nodeNetnsPath: string;
}

/** A local task's attachment to one network, with the interface name it gets inside the task. */
export interface DesiredEndpoint {
  task: LocalTask;
  attachment: TaskAttachment;
  /** eth0, eth1, ... in the order of the task's attachments, unless the attachment names it. */
  taskIf: string;
  /** Bare IPv4 address (attachment.address without the prefix length). */
  ip: string;
}

/** Local endpoints per network id; attachments to networks this node does not know are skipped. */
function endpointsByNetwork(desired: OverlayDesiredState): Map<string, DesiredEndpoint[]> {
  const known = new Set(desired.networks.map((n) => n.id));
  const out = new Map<string, DesiredEndpoint[]>();
  for (const task of desired.tasks) {
    task.attachments.forEach((attachment, i) => {
      if (!known.has(attachment.networkId)) return;
      const parsed = parseAddressWithPrefix(attachment.address);
      if (typeof parsed === 'string') throw new RangeError(`task ${task.taskId}: ${parsed}`);
      const ep: DesiredEndpoint = {
        task,
        attachment,
        taskIf: attachment.ifName ?? `eth${i}`,
        ip: attachment.address.slice(0, attachment.address.indexOf('/')),
      };
      out.set(attachment.networkId, [...(out.get(attachment.networkId) ?? []), ep]);
    });
  }
  return out;
}

/**
 * The overlay MTU: `--opt mtu`, else the underlay's minus the VXLAN encapsulation, and minus ESP's on an
 * encrypted network (so its packets are not fragmented after encryption).
 */
export function networkMtu(network: OverlayNetwork, underlayMtu: number | undefined): number {
  const overhead = VXLAN_OVERHEAD + (network.encrypted ? ESP_OVERHEAD : 0);
  return network.mtu ?? (underlayMtu ?? 1500) - overhead;
}

/** '10.0.1.1' in '10.0.1.0/24' → '10.0.1.1/24', the form `ip addr` takes and shows. */
export function withPrefixOf(address: string, subnet: string): string {
  const cidr = parseCidr(subnet);
  if (typeof cidr === 'string') throw new RangeError(cidr);
  return `${address}/${cidr.prefix}`;
}

/** The networks that need a sandbox on this node: those with at least one local endpoint. */
export function sandboxesWanted(
  prefix: string,
  desired: OverlayDesiredState,
): Map<string, { network: OverlayNetwork; endpoints: DesiredEndpoint[] }> {
  const endpoints = endpointsByNetwork(desired);
  const out = new Map<string, { network: OverlayNetwork; endpoints: DesiredEndpoint[] }>();
  for (const network of desired.networks) {
    const eps = endpoints.get(network.id) ?? [];
    if (eps.length > 0) out.set(sandboxName(prefix, network.vni), { network, endpoints: eps });
  }
  return out;
}

/**
 * Whether what the kernel holds for `taskId` stays though the task is not (yet) in the desired state:
 * the daemon is re-adopting its tasks and this one may be about to attach again (types.ts, adopting).
 */
export function awaitingAdoption(desired: OverlayDesiredState, taskId: string | undefined): boolean {
  return (
    desired.adopting !== undefined &&
    taskId !== undefined &&
    !desired.tasks.some((t) => t.taskId === taskId) &&
    !desired.adopting.detached.includes(taskId)
  );
}
