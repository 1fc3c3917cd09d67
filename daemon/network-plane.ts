// This node's data-plane wiring: gossip on 7946 (started once the managers have handed over the swarm's
// gossip keys through the dispatcher session), the overlay driver, and the overlay agent between them;
// the endpoints table on top of gossip, and what it feeds: the routing mesh (ingress sandbox, published
// ports, VIPs) and the embedded DNS at 127.0.0.11 in every task. The task runners reach it through
// `attacher()`, which waits for the plane to be up before plugging a task in.
import type { Logger } from '../lib/log.js';
import { isEncryptedNetwork, type Network, type Task } from '../api/objects/index.js';
import { encryptionRefusal, OVERLAY_ENCRYPTION_DATAPATH, probeEsp } from '../lib/esp.js';
import type { NetworkAttacher } from '../worker/agent/task-runner.js';
import type { SessionMessage } from '../worker/agent/session.js';
import { readFile } from 'node:fs/promises';
import { EmbeddedDns } from '../dns/resolver.js';
import { upstreamsFromResolvConf } from '../dns/resolv-conf.js';
import { MeshAgent } from '../ingress/agent.js';
import type { EndpointRecord, EndpointSource } from '../worker/endpoints/records.js';
import { EndpointTable } from '../worker/endpoints/table.js';
import { GossipNode } from '../worker/gossip/node.js';
import { OverlayAgent, publishesOnHost } from '../worker/network/overlay/agent.js';
import { OverlayDriver } from '../worker/network/overlay/driver.js';
import { espKeySetFromSession, type EspKeySet } from '../worker/network/overlay/esp-keys.js';
import { overlayNetworkDriver } from '../worker/network/overlay/cnm.js';
import { MeshedOverlayDriver } from './container-overlay.js';

const GOSSIP_PORT = 7946;
const START_WAIT_MS = 15_000;

export interface NetworkPlaneOptions {
  nodeId: string;
  /** This node's underlay address: gossip binds and advertises it, VXLAN uses it as the VTEP. */
  vtep: string;
  prefix: string;
  /** The host's resolv.conf: the upstreams of tasks without `--dns`. */
  resolvConf: string;
  log: Logger;
}

export class NetworkPlane {
  private gossip: GossipNode | undefined;
  private overlay: OverlayAgent | undefined;
  private endpoints: EndpointTable | undefined;
  private mesh: MeshAgent | undefined;
  /** The ingress network and this node's address on it, as the last session message said. */
  private ingress: { network: Network; address: string; key: string } | undefined;
  private meshRetry: NodeJS.Timeout | undefined;
  /**
   * Serves every task from the start, also before gossip is up (names come once the endpoints do):
   * it reads the endpoints through `source`, which reaches the table once there is one.
   */
  private readonly dnsListeners = new Set<(networkId: string) => void>();
  private readonly source: EndpointSource = {
    records: (networkId) => this.endpoints?.records(networkId) ?? [],
    onChange: (listener) => {
      this.dnsListeners.add(listener);
      return () => this.dnsListeners.delete(listener);
    },
  };
  private readonly dns: EmbeddedDns;
  /**
   * Tasks whose overlay attach gave up waiting for the plane (an adopted task's daemon restarted while
   * the managers were out of reach), and tasks that ran before there were endpoints to announce them
   * in: both are caught up once the plane is up, so no live task stays out of the overlay, the mesh or
   * DNS for good.
   */
  private readonly lateAttach = new Map<string, { task: Task; netnsPath: string }>();
  private readonly lateAnnounce = new Map<string, Task>();
  /** The overlays of a node that left gossip, kept until its tasks are gone and `removeAll` runs. */
  private leaving: OverlayAgent | undefined;
  private starting: Promise<void> | undefined;
  private ready!: () => void;
  private readonly up = new Promise<void>((r) => (this.ready = r));
  private readonly pendingNetworks: Network[] = [];
  /** The overlay IPsec keys of the last session message, for an overlay agent made after it. */
  private espKeys: EspKeySet | undefined;
  /** Every network the managers sent with this node's tasks (for the encryption check). */
  private readonly networkSpecs = new Map<string, Network>();
  private readonly seeds = new Set<string>();
  /** The CNM adapter over the overlay agent, for standalone containers (made on first use). */
  private cnm: { agent: OverlayAgent; driver: MeshedOverlayDriver } | undefined;

  constructor(private readonly opts: NetworkPlaneOptions) {
    // Upstreams come per task (its --dns, else --resolv-conf as it is when the task starts), never from
    // a file the daemon was not pointed at.
    this.dns = new EmbeddedDns({
      source: this.source,
      upstreams: [],
      log: opts.log.child({ component: 'dns' }),
    });
  }

  /** Every session message: start gossip with the keys, follow key rotations and new managers. */
  onSessionMessage(msg: SessionMessage): void {
    if (msg.serviceNames) this.dns.setSwarmServices(msg.serviceNames);
    if (msg.ingressNetwork && msg.ingressAddress) {
      const key = JSON.stringify([msg.ingressNetwork.id, msg.ingressNetwork.ipam, msg.ingressAddress]);
      if (key !== this.ingress?.key) {
        this.ingress = { network: msg.ingressNetwork, address: msg.ingressAddress, key };
        if (this.mesh) this.buildSandbox();
      }
    }
    const esp = espKeySetFromSession(msg.overlayKeys ?? [], msg.overlayPrimaryKey ?? 0);
    if (esp && 'error' in esp) {
      this.opts.log.error(
        { err: esp.error },
        'ignoring the overlay keys of a session message; keeping the last',
      );
    } else {
      this.espKeys = esp;
      this.overlay?.setEspKeys(esp);
    }
    const keys = (msg.networkKeys ?? []).map((k) => new Uint8Array(k));
    if (keys.length === 0) return;
    const seeds = msg.managers
      .map((m) => m.addr.split(':')[0]!)
      .filter((host) => host && host !== this.opts.vtep)
      .map((host) => `${host}:${GOSSIP_PORT}`);
    if (!this.gossip) {
      this.starting ??= this.start(keys, seeds).catch((err: unknown) => {
        this.starting = undefined;
        this.opts.log.error({ err }, 'gossip could not start; overlay networks are unavailable on this node');
      });
      return;
    }
    this.gossip.keyring.replace(keys);
    const fresh = seeds.filter((s) => !this.seeds.has(s));
    if (fresh.length > 0) {
      for (const s of fresh) this.seeds.add(s);
      this.gossip.join(fresh);
    }
  }

  private async start(keys: Uint8Array[], seeds: string[]): Promise<void> {
    const gossip = await GossipNode.start({
      id: this.opts.nodeId,
      bindAddr: this.opts.vtep,
      port: GOSSIP_PORT,
      advertiseAddr: this.opts.vtep,
      keys,
    });
    this.gossip = gossip;
    for (const s of seeds) this.seeds.add(s);
    if (seeds.length > 0) gossip.join(seeds);
    const driver = this.driver();
    this.overlay = new OverlayAgent({
      driver,
      gossip,
      vtep: this.opts.vtep,
      log: this.opts.log.child({ component: 'overlay' }),
    });
    this.overlay.setNetworks(this.pendingNetworks.splice(0));
    this.overlay.setEspKeys(this.espKeys);
    const overlay = this.overlay;
    this.endpoints = new EndpointTable(
      gossip,
      this.opts.log.child({ component: 'endpoints' }),
      (network, ip) => overlay.inSubnets(network, ip),
    );
    this.endpoints.onChange((networkId) => {
      for (const l of this.dnsListeners) l(networkId);
    });
    this.mesh = new MeshAgent({
      prefix: this.opts.prefix,
      endpoints: this.endpoints,
      overlay: this.overlay,
      log: this.opts.log.child({ component: 'mesh' }),
    });
    if (this.ingress) this.buildSandbox();
    this.opts.log.info({ addr: `${this.opts.vtep}:${GOSSIP_PORT}`, seeds }, 'gossip started');
    this.ready();
    void this.catchUp();
  }

  private async catchUp(): Promise<void> {
    for (const [taskId, { task, netnsPath }] of this.lateAttach) {
      this.lateAttach.delete(taskId);
      try {
        await this.overlay?.attach(task, netnsPath);
        await this.mesh?.addTask(task, netnsPath);
      } catch (err) {
        this.opts.log.warn({ err, task: taskId }, 'attaching a task late failed');
      }
    }
    for (const [taskId, task] of this.lateAnnounce) {
      this.lateAnnounce.delete(taskId);
      this.endpoints?.announce(task);
      this.mesh?.serving(taskId, true);
    }
  }

  private driver(): OverlayDriver {
    return new OverlayDriver({
      prefix: this.opts.prefix,
      log: this.opts.log.child({ component: 'overlay' }),
    });
  }

  /** The ingress sandbox, retried every second until it is built (the routing mesh needs it). */
  private buildSandbox(): void {
    clearTimeout(this.meshRetry);
    const { mesh, ingress } = this;
    if (!mesh || !ingress) return;
    mesh.setIngress(ingress.network, ingress.address).then(
      () => this.opts.log.info({ address: ingress.address }, 'ingress sandbox ready'),
      (err: unknown) => {
        this.opts.log.warn({ err }, 'ingress sandbox not built; retrying');
        if (this.mesh === mesh && this.ingress === ingress)
          this.meshRetry = setTimeout(() => this.buildSandbox(), 1_000).unref();
      },
    );
  }

  private async overlayUp(): Promise<OverlayAgent> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error('the network plane is not up (no gossip keys from the managers yet)')),
        START_WAIT_MS,
      );
    });
    try {
      await Promise.race([this.up, timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (!this.overlay) throw new Error('this node is leaving the swarm');
    return this.overlay;
  }

  /** What the task runners call. */
  attacher(): NetworkAttacher & { setNetworks(networks: readonly Network[]): void } {
    return {
      refusal: async (task: Task) => {
        const encrypted = task.networks
          .map((a) => this.networkSpecs.get(a.networkId))
          .filter((n): n is Network => n !== undefined && isEncryptedNetwork(n.spec));
        if (encrypted.length === 0) return undefined;
        const why = encryptionRefusal(await probeEsp(), OVERLAY_ENCRYPTION_DATAPATH);
        return why && `network ${encrypted[0]!.spec.name} is encrypted and ${why}`;
      },
      setNetworks: (networks) => {
        for (const n of networks) this.networkSpecs.set(n.id, n);
        if (this.overlay) this.overlay.setNetworks(networks);
        else this.pendingNetworks.push(...networks);
      },
      attach: async (task: Task, netnsPath: string) => {
        // The overlay first: without it the task is cut off; DNS failing costs only names. A task with
        // no network that publishes a host-mode port gets its gateway-bridge leg there too.
        if (task.networks.length > 0 || publishesOnHost(task)) {
          let overlay: OverlayAgent;
          try {
            overlay = await this.overlayUp();
          } catch (err) {
            this.lateAttach.set(task.id, { task, netnsPath });
            throw err;
          }
          await overlay.attach(task, netnsPath);
          await this.mesh?.addTask(task, netnsPath);
        }
        // Every task resolves through 127.0.0.11 (its resolv.conf says so), networks or not.
        await this.attachDns(task, netnsPath);
      },
      announce: (task: Task) => {
        if (!this.endpoints) return void this.lateAnnounce.set(task.id, task);
        this.endpoints.announce(task);
        this.mesh?.serving(task.id, true);
      },
      withdraw: (taskId: string) => {
        this.lateAnnounce.delete(taskId);
        this.endpoints?.withdraw(taskId);
        this.mesh?.serving(taskId, false);
      },
      detach: async (taskId: string) => {
        this.lateAttach.delete(taskId);
        this.lateAnnounce.delete(taskId);
        this.dns.detachTask(taskId);
        this.endpoints?.withdraw(taskId);
        this.mesh?.removeTask(taskId);
        await this.overlay?.detach(taskId);
      },
    };
  }

  /**
   * The overlay driver behind the CNM interface, for standalone containers on an attachable overlay
   * (worker/containers/swarm-networks.ts): the network comes with the managers' attachment answer.
   */
  async containerDriver(network: Network | undefined): Promise<MeshedOverlayDriver> {
    if (network) this.networkSpecs.set(network.id, network);
    const overlay = await this.overlayUp();
    if (network) overlay.setNetworks([network]);
    if (this.cnm?.agent !== overlay) {
      const driver = new MeshedOverlayDriver(overlayNetworkDriver(overlay), () => this.mesh);
      this.cnm = { agent: overlay, driver };
    }
    return this.cnm.driver;
  }

  /** The swarm's records of every network this node is on (what tasks announce), for containers' DNS. */
  get endpointSource(): EndpointSource {
    return this.source;
  }

  /**
   * A standalone container's name on an overlay, announced so the swarm's tasks resolve it (undefined:
   * withdrawn). Written as this node's, as only the node running an endpoint may speak for it.
   */
  containerRecord(networkId: string, containerId: string, record: EndpointRecord | undefined): void {
    this.endpoints?.setRecord(
      networkId,
      containerId,
      record && { ...record, serviceId: '', serviceName: '', nodeId: this.opts.nodeId },
    );
  }

  /** The task's 127.0.0.11 sockets; a failure is logged and retried (3 tries), never fatal to it. */
  private async attachDns(task: Task, netnsPath: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.dns.attachTask({
          taskId: task.id,
          netnsPath,
          networkIds: task.networks.map((n) => n.networkId),
          nameservers: task.spec.dns.nameservers.length
            ? task.spec.dns.nameservers
            : await this.hostUpstreams(),
        });
        return;
      } catch (err) {
        this.opts.log.warn({ err, task: task.id, attempt }, 'embedded DNS not attached to the task');
        if (attempt >= 3) return;
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  /** The upstreams in the host's resolv.conf now (re-read for each task, as Docker does). */
  private async hostUpstreams(): Promise<string[]> {
    try {
      return upstreamsFromResolvConf(await readFile(this.opts.resolvConf, 'utf8'));
    } catch (err) {
      this.opts.log.warn(
        { err, file: this.opts.resolvConf },
        'no upstream resolvers: names outside the swarm fail',
      );
      return [];
    }
  }

  /** `network inspect` on this node (empty when this node has no task on the network). */
  async view(networkId: string, vni: number, verbose: boolean) {
    if (!this.overlay) return { endpoints: [], peers: [], programmedJson: '' };
    const view = await this.overlay.view(networkId, vni, verbose);
    if (!verbose) return view;
    // Docker's `network inspect -v` "Services": what this node's DNS and load balancers are built from;
    // on the ingress network also the routing mesh's tables as the kernel has them.
    const programmed = (view.programmedJson ? JSON.parse(view.programmedJson) : {}) as Record<
      string,
      unknown
    >;
    programmed.services = servicesView(this.endpoints?.records(networkId) ?? []);
    if (this.ingress?.network.id === networkId && this.mesh) programmed.mesh = await this.mesh.inspect();
    return { ...view, programmedJson: JSON.stringify(programmed) };
  }

  /** For tests. */
  status() {
    return {
      gossip: this.gossip ? { members: this.gossip.members(), stats: this.gossip.stats() } : undefined,
      desired: this.overlay?.desired(),
    };
  }

  /** The daemon stops: gossip goes quiet; the kernel state stays for the tasks that keep running. */
  async stop(): Promise<void> {
    clearTimeout(this.meshRetry);
    this.mesh?.stop();
    this.endpoints?.close();
    await this.dns.close().catch(() => {});
    await this.gossip?.close().catch(() => {});
  }

  /**
   * The node leaves the swarm, first of all in gossip: a graceful leave makes every other node drop all
   * of this node's entries at once, instead of one by one as its tasks stop. From here on, detaching a
   * task is a no-op: `removeAll` takes every leg and sandbox down once the tasks are gone.
   */
  async leave(): Promise<void> {
    this.leaving = this.overlay;
    this.overlay = undefined;
    clearTimeout(this.meshRetry);
    this.mesh?.stop();
    this.endpoints?.close();
    await this.gossip?.leave().catch(() => {});
    await this.gossip?.close().catch(() => {});
    this.gossip = undefined;
  }

  /** After `leave` and the tasks' removal: every sandbox, leg and table the overlays made goes. */
  async removeAll(): Promise<void> {
    const overlay = this.leaving ?? this.overlay;
    this.leaving = this.overlay = undefined;
    // Without a live overlay or mesh (a restarted node leaving before gossip came up), what an earlier
    // run made is found by this node's prefix all the same.
    const leftovers = overlay ? overlay.removeAll() : this.driver().removeAll();
    await leftovers.catch((err: unknown) => this.opts.log.warn({ err }, 'overlay cleanup failed'));
    await (this.mesh ? this.mesh.removeAll() : MeshAgent.removeLeftovers(this.opts.prefix)).catch(
      (err: unknown) => this.opts.log.warn({ err }, 'mesh cleanup failed'),
    );
    await this.dns.close().catch(() => {});
    this.mesh = undefined;
  }
}

/** Endpoint records grouped by service, in the shape of Docker's verbose network inspect. */
function servicesView(records: readonly EndpointRecord[]) {
  const services: Record<string, { vip: string; ports: string[]; tasks: object[] }> = {};
  for (const r of records) {
    const s = (services[r.serviceName] ??= {
      vip: r.vip,
      ports: r.ports.map((p) => `${p.publishedPort}->${p.targetPort}/${p.protocol} (${p.publishMode})`),
      tasks: [],
    });
    s.tasks.push({ name: r.taskName, endpointIp: r.ip, node: r.nodeId, aliases: r.aliases });
  }
  return services;
}
