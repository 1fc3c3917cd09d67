// The node's network plane: joins the overlay networks its tasks use, announces each local task's
// address in the `overlay-peers` gossip table of that network (IP → this node's VTEP), and keeps the
// kernel in step through the driver (sandboxes, VXLAN, veths, neighbor and FDB entries) whenever a
// local task comes or goes or the table changes. The driver is stateless and converges from what the
// kernel has, so every change is simply one more sync of the whole desired state.
import { isIPv4 } from 'node:net';
import type { Logger } from '../../../lib/log.js';
import { containsAddress, parseAddress, parseCidr } from '../../../lib/ipv4.js';
import { isEncryptedNetwork, type Network, type Task } from '../../../api/objects/index.js';
import type { EspKeySet } from './esp-keys.js';
import { fullTaskName } from '../../agent/task-runner.js';
import type { GossipNode, GossipTableEvent } from '../../gossip/node.js';
import type { OverlayDriver } from './driver.js';
import type { LocalTask, OverlayDesiredState, RemotePeer, TaskAttachment } from './types.js';
import { macFromIp } from './names.js';

const PEERS_TABLE = 'overlay-peers';

/** What a node announces for one of its tasks on one network. */
interface PeerRecord {
  ip: string;
  vtep: string;
  /** The address is a node's ingress sandbox (the routing mesh's source of preserved connections). */
  sandbox?: true;
}

const ipOf = (cidr: string) => cidr.split('/')[0]!;

/**
 * How long after start the driver keeps what a previous daemon left for tasks not attached again yet:
 * adopted tasks re-attach as their runners resume, one by one, slowly on a loaded machine.
 */
const ADOPT_GRACE_MS = 60_000;
/** A sync that left a step failed is tried again after this long (nothing else may trigger one). */
const RETRY_MS = 1_000;

export interface OverlayAgentOptions {
  driver: OverlayDriver;
  gossip: GossipNode;
  /** This node's underlay address: its VTEP and what it announces. */
  vtep: string;
  log: Logger;
  /** Default ADOPT_GRACE_MS. */
  adoptGraceMs?: number;
}

/** Whether the task publishes a port in host mode (on the node it runs on). */
export const publishesOnHost = (task: Pick<Task, 'endpoint'>): boolean =>
  task.endpoint.ports.some((p) => p.publishMode === 'host' && p.publishedPort > 0);

export class OverlayAgent {
  private readonly networks = new Map<string, Network>();
  private readonly tasks = new Map<string, LocalTask>();
  private readonly names = new Map<string, string>();
  private running: Promise<void> | undefined;
  private again = false;
  private readonly peerListeners = new Set<(networkId: string) => void>();
  private readonly adoptUntil: number;
  /** Tasks detached since start (during the adoption grace: their leftovers go at once). */
  private readonly detachedSinceStart = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private retryPending = false;
  private stopped = false;
  /** The managers' overlay IPsec keys, as the last session message said (none: no encrypted task here). */
  private espKeys: EspKeySet | undefined;
  private readonly onTable = (e: GossipTableEvent) => {
    if (e.table !== PEERS_TABLE) return;
    for (const l of this.peerListeners) l(e.network);
    if (e.owner !== this.opts.gossip.local().id) void this.sync().catch(() => {});
  };

  constructor(private readonly opts: OverlayAgentOptions) {
    opts.gossip.on('table', this.onTable);
    const grace = opts.adoptGraceMs ?? ADOPT_GRACE_MS;
    this.adoptUntil = Date.now() + grace;
    // When the grace ends, one sync removes what no task came back for.
    this.later(grace, () => void this.sync().catch(() => {}));
  }

  private later(ms: number, work: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) work();
    }, ms).unref();
    this.timers.add(timer);
  }

  /** Network objects as the assignments carry them (VNI, subnets, options). */
  setNetworks(networks: readonly Network[]): void {
    for (const n of networks) this.networks.set(n.id, n);
  }

  /** Whether `ip` lies in one of the network's subnets (never for a network not known here). */
  inSubnets(networkId: string, ip: string): boolean {
    const network = this.networks.get(networkId);
    const addr = parseAddress(ip);
    if (!network || typeof addr === 'string') return false;
    return network.ipam.some((s) => {
      const cidr = parseCidr(s.subnet);
      return typeof cidr !== 'string' && containsAddress(cidr, addr);
    });
  }

  /**
   * Plugs a task into its networks; resolves once the kernel has its legs (before the task starts).
   * A task with no network gets only a gateway-bridge leg when it publishes a host-mode port: without
   * it the port would lead to a namespace holding nothing but lo (issue 18, fault 5).
   */
  async attach(task: Task, netnsPath: string): Promise<void> {
    const attachments = task.networks
      .filter((a) => this.networks.has(a.networkId) && a.addresses[0])
      .map((a) => ({ networkId: a.networkId, address: a.addresses[0]! }));
    if (attachments.length === 0 && !(task.networks.length === 0 && publishesOnHost(task))) return;
    await this.attachLocal({ taskId: task.id, netnsPath, attachments }, fullTaskName(task));
  }

  /**
   * Plugs in any local namespace as a task: the tasks, and the node's ingress sandbox (which also pins
   * its gateway-bridge address). Its addresses are announced to the network's other nodes.
   */
  async attachLocal(local: LocalTask, name: string, opts: { sandbox?: boolean } = {}): Promise<void> {
    const { attachments } = local;
    for (const a of attachments)
      if (!this.networks.has(a.networkId)) throw new Error(`network ${a.networkId} is not known here`);
    // Plugged in again with fewer networks (a container's `network disconnect`): the ones it left
    // are withdrawn, as detach withdraws them all.
    const before = this.tasks.get(local.taskId)?.attachments ?? [];
    this.tasks.set(local.taskId, local);
    this.names.set(local.taskId, name);
    this.withdraw(
      local.taskId,
      before.filter((b) => !attachments.some((a) => a.networkId === b.networkId && a.address === b.address)),
    );
    for (const a of attachments) {
      this.opts.gossip.joinNetwork(a.networkId);
      const record: PeerRecord = {
        ip: ipOf(a.address),
        vtep: this.opts.vtep,
        ...(opts.sandbox ? { sandbox: true } : {}),
      };
      this.opts.gossip.setEntry(PEERS_TABLE, a.networkId, record.ip, Buffer.from(JSON.stringify(record)));
    }
    await this.sync();
  }

  /** Whether the assignments brought this network here (an overlay this node may plug into). */
  knows(networkId: string): boolean {
    return this.networks.has(networkId);
  }

  /** The task is gone: its announcements are withdrawn and its legs removed. */
  async detach(taskId: string): Promise<void> {
    const task = this.tasks.get(taskId);
    if (!task) return;
    this.tasks.delete(taskId);
    this.names.delete(taskId);
    if (Date.now() < this.adoptUntil) this.detachedSinceStart.add(taskId);
    this.withdraw(taskId, task.attachments);
    await this.sync();
  }

  /** Withdraws a task's announcements on these networks; leaves a network no local task uses now. */
  private withdraw(taskId: string, attachments: readonly TaskAttachment[]): void {
    for (const a of attachments) {
      try {
        this.opts.gossip.deleteEntry(PEERS_TABLE, a.networkId, ipOf(a.address));
      } catch (err) {
        this.opts.log.debug({ err, task: taskId }, 'overlay entry already gone');
      }
      const stillUsed = [...this.tasks.values()].some((t) =>
        t.attachments.some((x) => x.networkId === a.networkId),
      );
      if (!stillUsed) this.opts.gossip.leaveNetwork(a.networkId);
    }
  }

  /** The ingress sandboxes on a network (every node's, this one's included), by address. */
  sandboxes(networkId: string): string[] {
    const ips: string[] = [];
    for (const e of this.opts.gossip.entries(PEERS_TABLE, networkId)) {
      try {
        const r = JSON.parse(e.value.toString()) as PeerRecord;
        if (r.sandbox === true && typeof r.ip === 'string' && isIPv4(r.ip)) ips.push(r.ip);
      } catch {
        // malformed entries are reported by desired()
      }
    }
    return ips.sort();
  }

  /** Whether gossip has brought this network's tables here yet (see GossipNode.networkSynced). */
  networkSynced(networkId: string): boolean {
    return this.opts.gossip.networkSynced(networkId);
  }

  /** Called whenever a network's peers change (an address announced or withdrawn anywhere). */
  onPeersChange(listener: (networkId: string) => void): () => void {
    this.peerListeners.add(listener);
    return () => this.peerListeners.delete(listener);
  }

  /** `network inspect` on this node: local endpoints, the peers on the network, what was programmed. */
  async view(networkId: string, vni: number, verbose: boolean) {
    const endpoints = [...this.tasks.values()].flatMap((t) =>
      t.attachments
        .filter((a) => a.networkId === networkId)
        .map((a) => ({
          taskId: t.taskId,
          name: this.names.get(t.taskId) ?? t.taskId,
          address: a.address,
          mac: macFromIp(ipOf(a.address)),
        })),
    );
    const addrOf = new Map(this.opts.gossip.members().map((m) => [m.id, m.addr]));
    const peers = this.opts.gossip
      .networkPeers(networkId)
      .map((nodeId) => ({ nodeId, addr: (addrOf.get(nodeId) ?? '').split(':')[0]! }));
    const programmed = verbose && vni > 0 ? await this.opts.driver.inspect(vni) : undefined;
    return { endpoints, peers, programmedJson: programmed ? JSON.stringify(programmed) : '' };
  }

  /** Everything this node made for overlays goes (the node left the swarm). */
  async removeAll(): Promise<void> {
    this.opts.gossip.off('table', this.onTable);
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.tasks.clear();
    await this.running?.catch(() => {});
    await this.opts.driver.removeAll();
  }

  /** What the kernel should have now. */
  desired(): OverlayDesiredState {
    const used = new Set([...this.tasks.values()].flatMap((t) => t.attachments.map((a) => a.networkId)));
    const self = this.opts.gossip.local().id;
    const peers: RemotePeer[] = [];
    for (const networkId of used) {
      for (const e of this.opts.gossip.entries(PEERS_TABLE, networkId)) {
        if (e.owner === self) continue;
        try {
          const r = JSON.parse(e.value.toString()) as PeerRecord;
          if (typeof r.ip === 'string' && typeof r.vtep === 'string')
            peers.push({ networkId, ip: r.ip, vtep: r.vtep });
        } catch {
          this.opts.log.warn({ network: networkId, key: e.key }, 'ignoring a malformed overlay peer entry');
        }
      }
    }
    return {
      vtep: this.opts.vtep,
      networks: [...used].map((id) => {
        const n = this.networks.get(id)!;
        const mtu = Number(n.spec.options.mtu);
        return {
          id,
          vni: n.vni,
          subnets: n.ipam.map((s) => ({ subnet: s.subnet, gateway: s.gateway })),
          ...(Number.isInteger(mtu) && mtu > 0 ? { mtu } : {}),
          internal: n.spec.internal,
          ...(isEncryptedNetwork(n.spec) ? { encrypted: true } : {}),
        };
      }),
      tasks: [...this.tasks.values()],
      peers,
      ...(this.espKeys ? { esp: this.espKeys } : {}),
      ...(Date.now() < this.adoptUntil ? { adopting: { detached: [...this.detachedSinceStart] } } : {}),
    };
  }

  /**
   * The overlay IPsec keys from the session (each rotation step is one call): the next sync programs
   * them. An empty set is kept as none: the SAs go with the last encrypted network's tasks.
   */
  setEspKeys(keys: EspKeySet | undefined): void {
    const fingerprint = (k: EspKeySet | undefined) =>
      k ? `${k.primary}:${k.keys.map((x) => `${x.id}=${x.key.toString('hex')}`).join(',')}` : '';
    const next = keys && keys.keys.length > 0 ? keys : undefined;
    if (fingerprint(next) === fingerprint(this.espKeys)) return;
    this.espKeys = next;
    void this.sync().catch(() => {});
  }

  /** One sync at a time; changes during a sync cause exactly one more. */
  sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const result = await this.opts.driver.sync(this.desired());
        for (const f of result.failures)
          this.opts.log.warn(f, 'overlay change failed; retried on the next sync');
        // A failed step (a read failing under load, a vxlan VNI still held by a namespace the kernel
        // is tearing down) must not wait for the next table change or attach, which may never come.
        if (result.failures.length > 0 && !this.retryPending) {
          this.retryPending = true;
          this.later(RETRY_MS, () => {
            this.retryPending = false;
            void this.sync().catch(() => {});
          });
        }
      } while (this.again);
    })().finally(() => (this.running = undefined));
    return this.running;
  }
}
