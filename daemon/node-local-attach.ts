// The task runners' network attacher, with node-local swarm networks (macvlan/bridge --scope swarm,
// worker/network/node-local.ts) beside the overlays: the network plane gets each task without its
// node-local attachments (they carry no address from the managers, no VXLAN, no gossip, no VIP), and
// the node-local legs come after the overlay ones (eth<k>, ...), the first taking the default route
// when no overlay leg did.
import type { Network, Task } from '../api/objects/index.js';
import type { NetworkAttacher } from '../worker/agent/task-runner.js';
import { publishesOnHost } from '../worker/network/overlay/agent.js';
import type { NodeLocalSwarmNetworks } from '../worker/network/node-local.js';

type PlaneAttacher = NetworkAttacher & { setNetworks(networks: readonly Network[]): void };

/** The task as the network plane sees it: its overlay attachments only. */
export function overlayPart(task: Task, nodeLocal: (id: string) => boolean): Task {
  const networks = task.networks.filter((a) => !nodeLocal(a.networkId));
  return networks.length === task.networks.length ? task : { ...task, networks };
}

/**
 * `plane` may be absent (a simulated executor); `nodeLocal` is absent until the daemon's local
 * networks are open: a task on a node-local network is refused until then.
 */
export function withNodeLocal(
  plane: PlaneAttacher | undefined,
  nodeLocal: () => NodeLocalSwarmNetworks | undefined,
): PlaneAttacher {
  const isNodeLocal = (id: string) => nodeLocal()?.isNodeLocal(id) ?? false;
  return {
    setNetworks: (networks) => {
      nodeLocal()?.setNetworks(networks);
      plane?.setNetworks(networks);
    },
    refusal: async (task) => {
      const local = nodeLocal();
      const own = local ? local.refusal(task) : undefined;
      return own ?? (await plane?.refusal?.(overlayPart(task, isNodeLocal)));
    },
    attach: async (task, netnsPath) => {
      const overlay = overlayPart(task, isNodeLocal);
      if (plane) await plane.attach(overlay, netnsPath);
      const local = nodeLocal();
      if (!local || overlay === task) return;
      // The overlay agent names its legs eth0.. in the order of the task's addressed attachments, and
      // gives the task its default route (gw0) when it has any of them or publishes on the host.
      const overlayLegs = overlay.networks.filter((a) => a.addresses.length > 0).length;
      await local.attach(task, netnsPath, overlayLegs, overlayLegs === 0 && !publishesOnHost(task));
    },
    announce: (task) => plane?.announce?.(overlayPart(task, isNodeLocal)),
    withdraw: (taskId) => plane?.withdraw?.(taskId),
    detach: async (taskId) => {
      try {
        await nodeLocal()?.detach(taskId);
      } finally {
        await plane?.detach(taskId);
      }
    },
  };
}
