// What every node of a swarm runs, manager or not: the dispatcher session, the agent that runs the
// tasks assigned to the node (executor.ts picks the real runtime or the simulated one), the node-work
// server (`service logs`, `exec`), and the network plane (gossip, overlays, routing mesh, DNS).
import { withNodeLocal } from './node-local-attach.js';
import type { NodeLocalSwarmNetworks } from '../worker/network/node-local.js';
import type * as grpc from '@grpc/grpc-js';
import { arch, cpus, hostname, platform, totalmem } from 'node:os';
import type { Logger } from '../lib/log.js';
import { packageVersion } from '../lib/repo.js';
import { MANAGER_CHANNEL_OPTIONS } from '../manager/index.js';
import { Agent } from '../worker/agent/agent.js';
import type { Executor } from '../worker/agent/executor.js';
import { NodeWorkServer } from '../worker/agent/node-work.js';
import { DispatcherSession, type SessionMessage } from '../worker/agent/session.js';
import { createExecutor } from './executor.js';
import { runnableImages } from './images.js';
import type { ImageService } from '../worker/images/images.js';
import { NetworkPlane } from './network-plane.js';
import type { DaemonOptions } from './options.js';
import { splitHostPort } from './swarm-addr.js';
import type { SwarmState } from './swarm-state.js';
import type { Network } from '../api/objects/index.js';
import type { SwarmNetworks } from '../worker/containers/swarm-networks.js';
import type { SwarmEndpoints } from './container-dns.js';

function describeHost() {
  return {
    hostname: hostname(),
    os: platform(),
    arch: arch(),
    nanoCpus: cpus().length * 1e9,
    memoryBytes: totalmem(),
    engineVersion: packageVersion(),
  };
}

export interface SessionHandlers {
  message(msg: SessionMessage): void;
  removed(): void;
}

export class WorkerRole {
  private session: DispatcherSession | undefined;
  /** Runs the tasks assigned to this node; lives as long as the node is in a swarm. */
  private agent: Agent | undefined;
  private nodeWork: NodeWorkServer | undefined;
  /** Gossip and overlays (real runtime only). */
  private network: NetworkPlane | undefined;
  private executorInstance: Executor | undefined;
  /** The overlays this node's containers were attached to (as the managers sent them), by id. */
  private readonly attachedNetworks = new Map<string, Network>();
  /** The ingress network as the last session message carried it (a worker's `network ls` shows it). */
  private ingress: Network | null = null;
  /** Node-local swarm networks (macvlan/bridge --scope swarm), once the daemon's local networks are open. */
  private nodeLocal: NodeLocalSwarmNetworks | undefined;

  constructor(
    private readonly opts: DaemonOptions,
    private readonly log: Logger,
    /** The node's image store (absent in tests that run only the built-in `host` image). */
    private readonly images?: ImageService,
  ) {}

  /** Made on first use: a daemon outside any swarm runs no tasks. */
  private get executor(): Executor {
    this.executorInstance ??= createExecutor(
      this.opts,
      this.log.child({ component: 'executor' }),
      this.images && runnableImages(this.images),
    );
    return this.executorInstance;
  }

  /** The daemon's local networks are open: tasks on node-local swarm networks can be plugged in. */
  useNodeLocal(nodeLocal: NodeLocalSwarmNetworks): void {
    this.nodeLocal = nodeLocal;
  }

  /** The manager this node's session is with now, if any. */
  get connectedTo(): string | undefined {
    return this.session?.current;
  }

  /** The managers the session knows (leader first), or undefined without a session. */
  knownManagers(): string[] | undefined {
    return this.session?.knownManagers();
  }

  /** Opens the dispatcher session (a new one after every join or restart) and what hangs off it. */
  start(s: SwarmState, credentials: () => grpc.ChannelCredentials, handlers: SessionHandlers): void {
    const vtep = splitHostPort(s.advertiseAddr.includes(':') ? s.advertiseAddr : `${s.advertiseAddr}:0`).host;
    // Overlays need real namespaces: a simulated executor's tasks have none to plug in.
    if (this.opts.executor === 'runtime') {
      this.network ??= new NetworkPlane({
        nodeId: s.nodeId,
        vtep,
        prefix: this.opts.netnsPrefix,
        resolvConf: this.opts.resolvConf,
        log: this.log.child({ component: 'network' }),
      });
      this.network.endpointSource.onChange((networkId) => {
        for (const l of this.endpointListeners) l(networkId);
      });
    }
    this.agent ??= new Agent({
      executor: this.executor,
      // Node-local networks need real namespaces as the overlays do: only with the network plane.
      ...(this.network ? { network: withNodeLocal(this.network.attacher(), () => this.nodeLocal) } : {}),
      node: { id: s.nodeId, hostname: hostname() },
      log: this.log.child({ component: 'agent' }),
    });
    const managers = s.role === 'manager' ? [s.advertiseAddr, ...s.managers] : s.managers;
    const session = new DispatcherSession({
      managers: [...new Set(managers)],
      credentials,
      channelOptions: MANAGER_CHANNEL_OPTIONS,
      description: describeHost(),
      addr: vtep,
      log: this.log,
    });
    session.on('message', (msg: SessionMessage) => {
      this.network?.onSessionMessage(msg);
      if (msg.ingressNetwork) this.ingress = msg.ingressNetwork;
      handlers.message(msg);
    });
    session.on('removed', () => handlers.removed());
    this.session = session;
    this.agent.attach(session);
    this.nodeWork ??= new NodeWorkServer(this.executor, this.log.child({ component: 'node-work' }));
    this.nodeWork.attach(session);
    session.start();
  }

  stopSession(): void {
    this.session?.stop();
    this.session = undefined;
  }

  /** An exec session through the leader's dispatcher (a worker's `swarmlite exec`). */
  exec() {
    return this.session?.exec();
  }

  /**
   * The swarm side of the containers' embedded DNS (container-dns.ts): the records of the overlays
   * this node is on, and the containers' own names announced on them. Stable across plane restarts.
   */
  readonly containerEndpoints: SwarmEndpoints = {
    source: {
      records: (networkId) => this.network?.endpointSource.records(networkId) ?? [],
      onChange: (listener) => {
        this.endpointListeners.add(listener);
        return () => this.endpointListeners.delete(listener);
      },
    },
    isOverlay: (networkId) => this.attachedNetworks.has(networkId),
    announce: (networkId, containerId, record) =>
      this.network?.containerRecord(networkId, containerId, record),
  };
  private readonly endpointListeners = new Set<(networkId: string) => void>();

  /**
   * The swarm's attachable overlays for this node's standalone containers, while it is in a swarm
   * with a real runtime: the managers' attachments through the session, the overlay through the plane.
   */
  containerNetworks(): SwarmNetworks | undefined {
    const plane = this.network;
    if (!this.session || !plane) return undefined;
    const session = () => {
      if (!this.session) throw new Error('this node left the swarm');
      return this.session;
    };
    const networks = this.attachedNetworks;
    return {
      attach: async (ref, containerId, aliases) => {
        const r = await session().attachNetwork(ref, containerId, aliases);
        networks.set(r.network.id, r.network);
        return {
          attachmentId: r.attachmentId,
          networkId: r.network.id,
          networkName: r.network.spec.name,
          address: r.address,
        };
      },
      detach: (attachmentId) => session().detachNetwork(attachmentId),
      // A network this daemon has not attached since it started (a removal after a restart): the
      // driver holds nothing of it, so leave and deleteEndpoint find nothing to undo.
      driver: (networkId) => plane.containerDriver(networks.get(networkId)),
    };
  }

  /**
   * The swarm networks this node knows by itself (a worker's `network ls`, as Docker's): ingress once
   * the managers sent it, and the overlays its assigned tasks attach to.
   */
  swarmNetworks(): Network[] {
    return this.agent?.swarmNetworks(this.ingress) ?? (this.ingress ? [this.ingress] : []);
  }

  /** What this node holds of a network (its endpoints, peers, kernel state): `network inspect`. */
  async networkLocal(req: { networkId?: string; vni?: number; verbose?: boolean }) {
    if (!this.network) return { endpoints: [], peers: [], programmedJson: '' };
    return this.network.view(String(req.networkId ?? ''), Number(req.vni ?? 0), req.verbose === true);
  }

  /**
   * The node leaves the swarm. Gossip first, so the other nodes drop this node's endpoints at once;
   * then the tasks (Docker removes a leaving node's service containers too), then what the overlays
   * made for them.
   */
  async leave(): Promise<void> {
    this.stopSession();
    await this.network?.leave();
    await this.agent?.removeAll().catch((err: unknown) => this.log.warn({ err }, 'task cleanup failed'));
    this.agent = undefined;
    this.ingress = null;
    this.nodeWork?.detach();
    await this.network?.removeAll();
    this.network = undefined;
  }

  /** The daemon stops: tasks keep running while it is down; the next start adopts them. */
  async stop(): Promise<void> {
    await this.agent?.stop();
    this.nodeWork?.detach();
    await this.network?.stop();
    this.stopSession();
  }
}
