// Pure: a standalone container's attachment to a swarm overlay (`run --network NAME` on any node), as
// SwarmKit does it: the node asks for an attachment, the manager records it as a task without a
// service (`attachment: { containerId }`), placed on that node and never run, and the allocator gives
// it an address from the network's pools like any task. Removing the container deletes the task, which
// gives the address back. Only networks made `--attachable` take one, as Docker.
import {
  defaultTaskSpec,
  isNodeLocalNetwork,
  type NewObject,
  type Network,
  type Task,
} from '../../api/objects/index.js';

/** Why a standalone container cannot join this network, or undefined. Docker's words for the flag. */
export function attachRefusal(network: Pick<Network, 'spec'>): string | undefined {
  if (network.spec.ingress)
    return `network ${network.spec.name} is the routing mesh's ingress network: containers cannot attach to it`;
  // Its legs and addresses are each node's (worker/network/node-local.ts), which plugs in service tasks
  // only so far: refused by name rather than handed to the overlay path, which would find no address.
  if (isNodeLocalNetwork(network.spec))
    return `network ${network.spec.name} is a ${network.spec.driver} network of the swarm: standalone containers cannot attach to it yet (services can)`;
  if (!network.spec.attachable)
    return `could not attach to network ${network.spec.name}: network ${network.spec.name} is not manually attachable (create it with --attachable)`;
  return undefined;
}

export interface AttachmentRequest {
  nodeId: string;
  containerId: string;
  aliases: readonly string[];
}

/** Docker's container ids: 64 lowercase hex digits. */
const CONTAINER_ID = /^[0-9a-f]{64}$/;

/** Why the request itself is malformed, or undefined. */
export function attachmentRequestProblem(req: AttachmentRequest): string | undefined {
  if (!CONTAINER_ID.test(req.containerId)) return `invalid container id "${req.containerId}"`;
  if (req.aliases.some((a) => a === '' || a.length > 255 || /\s/.test(a)))
    return 'invalid alias: aliases are non-empty names without spaces';
  return undefined;
}

/** The node's existing attachment of that container to that network (a retried request reuses it). */
export function existingAttachment(
  tasks: readonly Task[],
  networkId: string,
  req: Pick<AttachmentRequest, 'nodeId' | 'containerId'>,
): Task | undefined {
  return tasks.find(
    (t) =>
      t.attachment?.containerId === req.containerId &&
      t.nodeId === req.nodeId &&
      t.spec.networks.some((n) => n.target === networkId) &&
      t.desiredState === 'running',
  );
}

/** The attachment task: state new, so the allocator gives it its address and moves it to assigned. */
export function attachmentTask(
  network: Pick<Network, 'id' | 'spec'>,
  req: AttachmentRequest,
  id: string,
  now: string,
): NewObject<Task> {
  const spec = defaultTaskSpec('');
  spec.networks = [{ target: network.id, aliases: [...req.aliases] }];
  return {
    id,
    serviceId: '',
    slot: 0,
    nodeId: req.nodeId,
    spec,
    specVersion: 0,
    serviceName: '',
    desiredState: 'running',
    status: { state: 'new', timestamp: now, message: 'network attachment', err: '' },
    networks: [],
    endpoint: { ports: [], virtualIps: [] },
    attachment: { containerId: req.containerId },
  };
}

/** The address the allocator gave the attachment (`10.0.1.5/24`), or undefined while it has none. */
export function attachmentAddress(task: Task, networkId: string): string | undefined {
  return task.networks.find((n) => n.networkId === networkId)?.addresses[0];
}
