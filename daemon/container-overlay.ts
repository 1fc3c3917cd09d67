// The overlay CNM driver as standalone containers use it (`run --network` on an attachable overlay):
// worker/network/overlay/cnm.ts for the legs, and around it the routing mesh's VIP balancers in the
// container's namespace, as a service task gets them (ingress/agent.ts addTask): without them a
// service's VIP resolves but leads nowhere. The container is a task of no service to the mesh.
import type { MeshAgent, MeshTask } from '../ingress/agent.js';
import type {
  EndpointConfig,
  JoinInfo,
  JoinOptions,
  NetworkConfig,
  NetworkDriver,
  Sandbox,
} from '../worker/network/driver.js';
import type { OverlayNetworkDriver } from '../worker/network/overlay/cnm.js';

/** The container as the mesh sees it: its namespace's overlay networks, nothing published. */
function meshTask(containerId: string, networkIds: readonly string[]): MeshTask {
  return {
    id: containerId,
    networks: networkIds.map((networkId) => ({ networkId })),
    endpoint: { ports: [] },
    serviceId: '',
  };
}

export class MeshedOverlayDriver implements NetworkDriver {
  readonly name: string;
  readonly capabilities: NetworkDriver['capabilities'];
  /** Sandbox (container) id → its namespace and overlay networks, in join order. */
  private readonly sandboxes = new Map<string, { netnsPath: string; networkIds: string[] }>();
  /** Endpoint id → (network, sandbox): leave names only the endpoint. */
  private readonly joined = new Map<string, { networkId: string; sandboxId: string }>();

  constructor(
    private readonly inner: OverlayNetworkDriver,
    private readonly mesh: () => MeshAgent | undefined,
  ) {
    this.name = inner.name;
    this.capabilities = inner.capabilities;
  }

  createNetwork(net: NetworkConfig): Promise<void> {
    return this.inner.createNetwork(net);
  }
  deleteNetwork(networkId: string): Promise<void> {
    return this.inner.deleteNetwork(networkId);
  }
  createEndpoint(networkId: string, ep: EndpointConfig): Promise<void> {
    return this.inner.createEndpoint(networkId, ep);
  }
  deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    return this.inner.deleteEndpoint(networkId, endpointId);
  }

  async join(networkId: string, endpointId: string, sandbox: Sandbox, opts: JoinOptions): Promise<JoinInfo> {
    const info = await this.inner.join(networkId, endpointId, sandbox, opts);
    const s = this.sandboxes.get(sandbox.id) ?? { netnsPath: sandbox.netnsPath, networkIds: [] };
    if (!s.networkIds.includes(networkId)) s.networkIds.push(networkId);
    this.sandboxes.set(sandbox.id, s);
    this.joined.set(endpointId, { networkId, sandboxId: sandbox.id });
    await this.mesh()?.addTask(meshTask(sandbox.id, s.networkIds), s.netnsPath);
    return info;
  }

  async leave(networkId: string, endpointId: string): Promise<void> {
    const j = this.joined.get(endpointId);
    this.joined.delete(endpointId);
    const s = j && this.sandboxes.get(j.sandboxId);
    if (j && s) {
      s.networkIds = s.networkIds.filter((n) => n !== networkId);
      if (s.networkIds.length === 0) {
        this.sandboxes.delete(j.sandboxId);
        this.mesh()?.removeTask(j.sandboxId);
      } else {
        await this.mesh()?.addTask(meshTask(j.sandboxId, s.networkIds), s.netnsPath);
      }
    }
    await this.inner.leave(networkId, endpointId);
  }

  async removeAll(): Promise<void> {
    for (const id of this.sandboxes.keys()) this.mesh()?.removeTask(id);
    this.sandboxes.clear();
    this.joined.clear();
    await this.inner.removeAll();
  }
}
