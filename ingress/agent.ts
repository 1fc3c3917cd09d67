// The node's routing mesh and service VIPs, kept in step with the gossiped endpoints (DESIGN.md §5):
//   - the ingress sandbox `<prefix>_ingress_sbox`: one leg on the `ingress` overlay (the node's own
//     address from the allocator), one on the gateway bridge at a fixed address, forwarding between them;
//   - `<prefix>_publish` in the node's namespace: every published port DNATed into that sandbox;
//   - `<prefix>_ingress` in the sandbox: each port balanced over every running task of its service,
//     cluster-wide, by their ingress addresses;
//   - `<prefix>_vips` in each local task's namespace: the VIPs of the services on its networks;
//   - `mode=host` ports: `<prefix>_ingress` in the node's namespace, straight to the local running tasks
//     by their gateway-bridge legs, without SNAT (the task sees the client, as with Docker's host mode).
// Every change of the endpoints (a task starting or stopping anywhere) re-renders what it touches; the
// applier skips unchanged text and replaces a changed table in one transaction. Each table is its own
// job: one that fails (a refused transaction, a namespace going away) is logged and retried, and
// never holds up the others. Tables built from a network's records wait until gossip has synced that
// network once: after a daemon restart, an empty table there means "not heard yet", and rendering it
// would cut live services off until the sync came in.
import { findTool, run } from '../lib/exec.js';
import type { Logger } from '../lib/log.js';
import type { Network, PortConfig, Task } from '../api/objects/index.js';
import type { EndpointSource } from '../worker/endpoints/records.js';
import type { OverlayAgent } from '../worker/network/overlay/agent.js';
import { ownNamespaceName, TASK_GATEWAY_IF } from '../worker/network/overlay/names.js';
import { parseLinks } from '../worker/network/overlay/observe.js';
import { MeshApplier, OWN_NAMESPACE, type Namespace } from './apply.js';
import { hostModeInputs, ingressInputs, vipInputs } from './inputs.js';
import { applyReturnPath } from './return-apply.js';
import { renderIngressTable, renderPublishTable, renderVipTable } from './model.js';

/**
 * What the mesh reads of a task: its service, its networks in attachment order and its ports. A
 * service task is one; so is a standalone container on an attachable overlay (no service, no ports).
 */
export type MeshTask = Pick<Task, 'id' | 'serviceId'> & {
  networks: readonly Pick<Task['networks'][number], 'networkId'>[];
  endpoint: { ports: readonly PortConfig[] };
};

/** The sandbox's fixed leg on the gateway bridge (DESIGN §5): what every published port is DNATed to. */
export const SANDBOX_GATEWAY_ADDRESS = '172.18.0.2/16';
const SANDBOX_ID = 'ingress-sbox';

/** `<prefix>_ingress_sbox`, made and removed by the overlay driver as an endpoint's own namespace. */
const ingressSandboxName = (prefix: string) => ownNamespaceName(prefix, 'ingress');

export interface MeshAgentOptions {
  prefix: string;
  endpoints: EndpointSource;
  overlay: OverlayAgent;
  log: Logger;
}

interface LocalTask {
  serviceId: string;
  netnsPath: string;
  networkIds: string[];
  /** Its service's mode=host ports, published here while it runs. */
  hostPorts: PortConfig[];
  /** Its gateway-bridge address (what host-mode ports DNAT to), read once its legs exist. */
  gatewayIp?: string;
  /** Its interface on the ingress network, when its service keeps client addresses (return path). */
  returnDevice?: string;
  serving: boolean;
}

/** A pseudo network id: host-mode backends are addressed on the gateway bridge, not an overlay. */
const HOST_MODE = 'host-mode';
/** Pseudo network ids for "the ingress sandboxes changed": return paths are re-synced. */
const SANDBOXES = 'ingress-sandboxes';
/** How long a network's tables wait for gossip's first sync of it before rendering what is known. */
const SYNC_WAIT_MS = 3_000;
/** A failed job is tried again after this long. */
const RETRY_MS = 1_000;

/** One table to render and apply; `key` is what to mark dirty again if it fails. */
interface Job {
  key: string;
  what: string;
  /** The task whose namespace the table goes in: its failure is expected once the task is gone. */
  taskId?: string;
  run: () => Promise<void>;
}

export class MeshAgent {
  private readonly applier: MeshApplier;
  private readonly tasks = new Map<string, LocalTask>();
  private ingress: { network: Network; address: string } | undefined;
  private sandboxReady = false;
  private dirty = new Set<string>();
  private scheduled = false;
  private readonly unsubscribe: () => void;
  private closed = false;
  private readonly startedAt = Date.now();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly pendingRetry = new Set<string>();

  constructor(private readonly opts: MeshAgentOptions) {
    this.applier = new MeshApplier({ prefix: opts.prefix, minIntervalMs: 50 });
    const offEndpoints = opts.endpoints.onChange((networkId) => this.touch(networkId));
    const offPeers = opts.overlay.onPeersChange((networkId) => {
      if (networkId === this.ingress?.network.id) this.touch(SANDBOXES);
    });
    this.unsubscribe = () => {
      offEndpoints();
      offPeers();
    };
  }

  private get sandboxNs(): Namespace {
    return { kind: 'named', name: ingressSandboxName(this.opts.prefix) };
  }

  /**
   * The ingress network and this node's address on it, from the managers: the overlay driver builds
   * (or, after a daemon restart, re-adopts) the sandbox, a namespace of its own that routes between
   * its gateway-bridge leg (published traffic in) and its overlay leg (to tasks), through the same
   * observe/plan/apply queue as every other endpoint.
   */
  async setIngress(network: Network, address: string): Promise<void> {
    const same = this.ingress?.network.id === network.id && this.ingress.address === address;
    this.ingress = { network, address };
    if (same && this.sandboxReady) return;
    const name = ingressSandboxName(this.opts.prefix);
    this.opts.overlay.setNetworks([network]);
    await this.opts.overlay.attachLocal(
      {
        taskId: SANDBOX_ID,
        netnsPath: `/run/netns/${name}`,
        ownNamespace: name,
        attachments: [{ networkId: network.id, address }],
        gatewayAddress: SANDBOX_GATEWAY_ADDRESS,
      },
      name,
      { sandbox: true },
    );
    this.sandboxReady = true;
    this.touch(network.id);
  }

  /**
   * A local task's namespace gets the VIPs of its networks (after its legs exist, before it starts, as
   * Docker does); its host-mode ports are published once it serves.
   */
  async addTask(task: MeshTask, netnsPath: string): Promise<void> {
    const hostPorts = task.endpoint.ports.filter((p) => p.publishMode === 'host' && p.publishedPort > 0);
    const networkIds = task.networks.map((n) => n.networkId);
    // The overlay names a task's legs eth0, eth1, ... in the order of its attachments.
    const ingressIndex = networkIds.indexOf(this.ingress?.network.id ?? '');
    const preserves = task.endpoint.ports.some((p) => p.publishMode === 'ingress' && p.preserveClientAddress);
    const local: LocalTask = {
      serviceId: task.serviceId,
      netnsPath,
      networkIds,
      hostPorts,
      serving: this.tasks.get(task.id)?.serving ?? false,
      ...(preserves && ingressIndex >= 0 ? { returnDevice: `eth${ingressIndex}` } : {}),
    };
    this.tasks.set(task.id, local);
    if (hostPorts.length > 0) {
      local.gatewayIp = await gatewayLegAddress(netnsPath);
      if (!local.gatewayIp)
        this.opts.log.warn(
          { task: task.id },
          'host-mode ports need a non-internal network: the task has no gateway leg',
        );
      this.touch(HOST_MODE);
    }
    // Its own tables now, so that its first connection to a VIP (or a preserved client's first reply)
    // already finds them; waiting a little for gossip's first sync of its networks if need be.
    await this.waitSynced(networkIds, 1_000);
    const jobs = [
      this.vipJob(task.id, local),
      ...(local.returnDevice ? [this.returnJob(task.id, local)] : []),
    ];
    await this.runJobs(jobs.filter((j): j is Job => j !== undefined));
  }

  /** The task runs (announced) or stops serving (withdrawn): its host-mode ports follow. */
  serving(taskId: string, up: boolean): void {
    const t = this.tasks.get(taskId);
    if (!t || t.serving === up) return;
    t.serving = up;
    if (t.hostPorts.length > 0) this.touch(HOST_MODE);
  }

  /** The task is gone; so is its namespace, with its table. */
  removeTask(taskId: string): void {
    const t = this.tasks.get(taskId);
    if (!t) return;
    this.tasks.delete(taskId);
    this.applier.forget({ kind: 'path', path: t.netnsPath });
    if (t.hostPorts.length > 0) this.touch(HOST_MODE);
  }

  private touch(networkId: string): void {
    if (this.closed) return;
    this.dirty.add(networkId);
    if (this.scheduled) return;
    this.scheduled = true;
    // Every change of one gossip round (or one burst of task events) renders once.
    setImmediate(() => {
      this.scheduled = false;
      const dirty = this.dirty;
      this.dirty = new Set();
      void this.runJobs(this.jobsFor(dirty));
    });
  }

  private synced(networkId: string): boolean {
    return this.opts.overlay.networkSynced(networkId) || Date.now() - this.startedAt > SYNC_WAIT_MS;
  }

  private async waitSynced(networkIds: string[], maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (!networkIds.every((n) => this.synced(n)) && Date.now() < deadline && !this.closed)
      await new Promise((r) => setTimeout(r, 25));
  }

  /** The jobs that a change of these keys (network ids, or HOST_MODE / SANDBOXES) calls for. */
  private jobsFor(keys: Set<string>): Job[] {
    const jobs: (Job | undefined)[] = [];
    const ingress = this.ingress;
    const waiting = [...keys].filter((k) => k !== HOST_MODE && k !== SANDBOXES && !this.synced(k));
    for (const k of waiting) this.later(k, this.startedAt + SYNC_WAIT_MS - Date.now());
    const ready = (k: string) => keys.has(k) && !waiting.includes(k);
    if (ingress && this.sandboxReady && ready(ingress.network.id))
      jobs.push(...this.ingressJobs(ingress.network.id));
    if (keys.has(HOST_MODE)) jobs.push(this.hostModeJob());
    if (keys.has(SANDBOXES) && ingress) {
      for (const [taskId, t] of this.tasks) if (t.returnDevice) jobs.push(this.returnJob(taskId, t));
    }
    for (const [taskId, t] of this.tasks) {
      if (!t.networkIds.some(ready)) continue;
      const unsynced = t.networkIds.filter((n) => !this.synced(n));
      if (unsynced.length === 0) jobs.push(this.vipJob(taskId, t));
      else for (const n of unsynced) this.later(n, this.startedAt + SYNC_WAIT_MS - Date.now());
    }
    return jobs.filter((j): j is Job => j !== undefined);
  }

  private ingressJobs(ingressId: string): Job[] {
    const { prefix, endpoints } = this.opts;
    const mesh = () => ingressInputs(ingressId, endpoints.records(ingressId));
    const sandboxAddress = SANDBOX_GATEWAY_ADDRESS.split('/')[0]!;
    return [
      {
        key: ingressId,
        what: 'published ports',
        run: () =>
          this.applier.apply(
            renderPublishTable({ prefix, published: mesh().published, sandboxAddress }),
            OWN_NAMESPACE,
          ),
      },
      {
        key: ingressId,
        what: 'ingress sandbox table',
        run: () =>
          this.applier.apply(
            renderIngressTable({ prefix, ingressNetworkId: ingressId, ...mesh() }),
            this.sandboxNs,
          ),
      },
    ];
  }

  private hostModeJob(): Job {
    const local = [...this.tasks.values()].flatMap((t) =>
      t.serving && t.gatewayIp ? [{ serviceId: t.serviceId, address: t.gatewayIp, ports: t.hostPorts }] : [],
    );
    return {
      key: HOST_MODE,
      what: 'host-mode ports',
      run: () =>
        this.applier.apply(
          renderIngressTable({
            prefix: this.opts.prefix,
            ingressNetworkId: HOST_MODE,
            masquerade: false,
            ...hostModeInputs(HOST_MODE, local),
          }),
          OWN_NAMESPACE,
        ),
    };
  }

  /** Preserved client addresses: replies go back through the sandbox that sent the connection. */
  private returnJob(taskId: string, t: LocalTask): Job | undefined {
    const ingress = this.ingress;
    if (!ingress || !t.returnDevice) return undefined;
    const device = t.returnDevice;
    return {
      key: SANDBOXES,
      what: `return path of task ${taskId}`,
      taskId,
      run: async () => {
        const sandboxes = this.opts.overlay.sandboxes(ingress.network.id).map((ip) => ({ ip }));
        const ns: Namespace = { kind: 'path', path: t.netnsPath };
        await applyReturnPath(this.applier, ns, { prefix: this.opts.prefix, sandboxes, device });
      },
    };
  }

  private vipJob(taskId: string, t: LocalTask): Job | undefined {
    const { prefix, endpoints } = this.opts;
    if (t.networkIds.length === 0) return undefined;
    return {
      key: t.networkIds[0]!,
      what: `VIPs of task ${taskId}`,
      taskId,
      run: async () => {
        const inputs = vipInputs(
          t.networkIds.map((networkId) => ({ networkId, records: endpoints.records(networkId) })),
        );
        await this.applier.apply(renderVipTable({ prefix, networkIds: t.networkIds, ...inputs }), {
          kind: 'path',
          path: t.netnsPath,
        });
      },
    };
  }

  /**
   * Runs jobs side by side; none can fail another. A failure of a task's job after the task is gone
   * is expected (its namespace went with it); any other is logged and its key retried.
   */
  private async runJobs(jobs: Job[]): Promise<void> {
    await Promise.all(
      jobs.map(async (job) => {
        try {
          await job.run();
        } catch (err) {
          if (this.closed || (job.taskId !== undefined && !this.tasks.has(job.taskId))) return;
          this.opts.log.warn({ err, table: job.what }, 'mesh table not applied; retrying');
          this.later(job.key, RETRY_MS);
        }
      }),
    );
  }

  /** Marks `key` dirty again after `ms` (one timer for all: the earliest wins, the rest ride along). */
  private later(key: string, ms: number): void {
    this.pendingRetry.add(key);
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        const keys = [...this.pendingRetry];
        this.pendingRetry.clear();
        for (const k of keys) this.touch(k);
      },
      Math.max(ms, 25),
    );
    this.retryTimer.unref();
  }

  /** For `network inspect ingress --verbose` and tests: the tables as the kernel has them. */
  async inspect(): Promise<{ publish: unknown; ingress: unknown }> {
    const { prefix } = this.opts;
    return {
      publish: await this.applier.inspect(`${prefix}_publish`, OWN_NAMESPACE),
      ingress: this.sandboxReady
        ? await this.applier.inspect(`${prefix}_ingress`, this.sandboxNs)
        : undefined,
    };
  }

  /** The daemon stops: the kernel keeps serving as it is; the next daemon re-renders from gossip. */
  // (Its tasks are adopted and added again, which re-renders host-mode ports and VIP tables.)
  stop(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.unsubscribe();
  }

  /** The node leaves the swarm: its tables go (the overlay driver removes the sandbox, with its table). */
  async removeAll(): Promise<void> {
    this.stop();
    this.sandboxReady = false;
    await MeshAgent.removeLeftovers(this.opts.prefix);
  }

  /**
   * What a mesh of this prefix leaves in the node's namespace: its tables (the sandbox, with the table
   * inside it, is the overlay driver's to remove). Also for a node that leaves before its mesh ever
   * started again (after a restart).
   */
  static async removeLeftovers(prefix: string): Promise<void> {
    await new MeshApplier({ prefix }).removeAll(OWN_NAMESPACE).catch(() => []);
  }
}

/** The address of a task's gateway-bridge leg, read inside its namespace. */
async function gatewayLegAddress(netnsPath: string): Promise<string | undefined> {
  const out = await run('nsenter', [
    `--net=${netnsPath}`,
    findTool('ip'),
    '-j',
    'addr',
    'show',
    'dev',
    TASK_GATEWAY_IF,
  ]).catch(() => '');
  return parseLinks(out)[0]?.addresses[0]?.split('/')[0];
}
