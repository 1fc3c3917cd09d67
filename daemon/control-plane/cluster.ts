// An in-process control plane for tests and benchmarks: one store (over an in-memory log or a real Raft
// node), the leader's real controllers (allocator, orchestrator, scheduler), the real Dispatcher served
// by gRPC with mutual TLS on a 127.0.0.1 port, and per node a real DispatcherSession and Agent with the
// simulated executor, each holding its own node certificate from the swarm's CA. What it leaves out is
// Raft between managers, the control API and the kernel: the e2e tests on lab clusters cover those.
import * as grpc from '@grpc/grpc-js';
import { createLogger, type Logger } from '../../lib/log.js';
import { services } from '../../api/rpc.js';
import {
  AllocatorController,
  clientCredentials,
  createRootCA,
  Dispatcher,
  GrpcError,
  ingressNetwork,
  issueDirect,
  managerServerCredentials,
  OrchestratorController,
  SchedulerController,
  TEST_CHANNEL_OPTIONS,
  TlsMaterialProvider,
  type CertificateAuthority,
  type Store,
} from '../../manager/testing.js';
import {
  defaultClusterSpec,
  defaultRollbackConfig,
  defaultTaskSpec,
  defaultUpdateConfig,
  type NewObject,
  type Node,
  type Service,
  type ServiceSpec,
  type SwarmObjects,
  type Task,
} from '../../api/objects/index.js';
import { Agent } from '../../worker/agent/agent.js';
import { DispatcherSession } from '../../worker/agent/session.js';
import { SimulatedExecutor } from '../../worker/agent/simulated-executor.js';

export const CLUSTER_ID = 'cluster1';
const MANAGER_NODE_ID = 'manager0';
const NODE_CPUS = 4e9;
const NODE_MEMORY = 8 * 1024 ** 3;

export interface SimNode {
  id: string;
  session: DispatcherSession;
  agent: Agent;
  executor: SimulatedExecutor;
}

function simNodeObject(id: string, hostname: string): NewObject<Node> {
  return {
    id,
    spec: { role: 'worker', availability: 'active', labels: {} },
    role: 'worker',
    status: { state: 'ready', message: '', addr: '198.18.0.1' },
    description: {
      hostname,
      platform: { os: 'linux', arch: 'x64' },
      resources: { nanoCpus: NODE_CPUS, memoryBytes: NODE_MEMORY },
      engineVersion: 'sim',
    },
    certificate: { role: 'worker', certPem: '', status: 'issued' },
  };
}

export function serviceSpec(
  name: string,
  replicas: number | 'global',
  over: Partial<ServiceSpec> = {},
): ServiceSpec {
  return {
    name,
    labels: {},
    task: defaultTaskSpec('host', ['sleep', 'infinity']),
    mode: replicas === 'global' ? { global: {} } : { replicated: { replicas } },
    update: defaultUpdateConfig(),
    rollback: defaultRollbackConfig(),
    endpoint: { mode: 'vip', ports: [] },
    ...over,
  };
}

/** The cluster object and the ingress network, as `init` makes them. */
export async function initSwarmObjects(
  store: Store<SwarmObjects>,
  rootCA?: CertificateAuthority,
): Promise<void> {
  await store.update((tx) => {
    tx.create('cluster', {
      id: CLUSTER_ID,
      spec: defaultClusterSpec('default'),
      rootCA: { certPem: rootCA?.certPem ?? '', keyPem: rootCA?.keyPem ?? '', digest: '' },
      joinTokens: { worker: '', manager: '' },
    });
    tx.create('network', ingressNetwork('ingress0'));
  });
}

export class InProcessCluster {
  readonly nodes = new Map<string, SimNode>();
  private readonly controllers: { start(): void; stop(): void }[];
  private readonly server = new grpc.Server();
  private dispatcher: Dispatcher | undefined;
  private ca: CertificateAuthority | undefined;
  private addr = '';
  readonly log: Logger;

  constructor(
    readonly store: Store<SwarmObjects>,
    opts: { log?: Logger } = {},
  ) {
    this.log = opts.log ?? createLogger('silent');
    this.controllers = [
      new AllocatorController({ store, clusterId: CLUSTER_ID, log: this.log }),
      new OrchestratorController({ store, log: this.log }),
      new SchedulerController({ store, log: this.log }),
    ];
  }

  /** The swarm's CA and objects, and the leader's dispatcher on a fresh 127.0.0.1 port. */
  async init(): Promise<void> {
    const ca = await createRootCA(CLUSTER_ID);
    this.ca = ca;
    await initSwarmObjects(this.store, ca);
    const self = await issueDirect(ca, CLUSTER_ID, MANAGER_NODE_ID, 'manager');
    const tls = new TlsMaterialProvider({
      caCertPem: ca.certPem,
      certPem: self.certPem,
      keyPem: self.keyPem,
    });
    const dispatcher = new Dispatcher({
      store: this.store,
      leader: { isLeader: () => true, leaderAddr: () => this.addr },
      caCertPem: () => ca.certPem,
      isRemoved: (id) => this.store.view((tx) => tx.get('node', id))?.removed === true,
      heartbeatPeriodMs: () =>
        this.store.view((tx) => tx.get('cluster', CLUSTER_ID))?.spec.dispatcher.heartbeatPeriodMs ?? 1_000,
      exec: () => {
        throw new GrpcError(grpc.status.UNIMPLEMENTED, 'exec is not part of the in-process cluster');
      },
      log: this.log,
    });
    this.dispatcher = dispatcher;
    this.server.addService(services.dispatcher().service, dispatcher.handlers());
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', managerServerCredentials(tls), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    this.addr = `127.0.0.1:${port}`;
    dispatcher.startLeading();
  }

  /**
   * Adds nodes as store objects (as the CA registers them at join); with `agents`, each also gets a
   * certificate, a dispatcher session and an agent.
   */
  async addNodes(ids: string[], agents: boolean): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await this.store.update((tx) => {
        for (const id of ids.slice(i, i + 500)) tx.create('node', simNodeObject(id, `host-${id}`));
      });
    }
    if (!agents) return;
    const ca = this.ca;
    if (!ca) throw new Error('InProcessCluster: init() first');
    for (const id of ids) {
      const cert = await issueDirect(ca, CLUSTER_ID, id, 'worker');
      const credentials = clientCredentials({
        caCertPem: ca.certPem,
        certPem: cert.certPem,
        keyPem: cert.keyPem,
      });
      const executor = new SimulatedExecutor();
      const session = new DispatcherSession({
        managers: [this.addr],
        credentials: () => credentials,
        channelOptions: TEST_CHANNEL_OPTIONS,
        description: {
          hostname: `host-${id}`,
          os: 'linux',
          arch: 'x64',
          nanoCpus: NODE_CPUS,
          memoryBytes: NODE_MEMORY,
          engineVersion: 'sim',
        },
        addr: '198.18.0.1',
        log: this.log,
      });
      const agent = new Agent({
        executor,
        node: { id, hostname: `host-${id}` },
        log: this.log,
        reportDelayMs: 5,
      });
      agent.attach(session);
      session.start();
      this.nodes.set(id, { id, session, agent, executor });
    }
  }

  startControllers(): void {
    for (const c of this.controllers) c.start();
  }

  stopControllers(): void {
    for (const c of this.controllers) c.stop();
  }

  async stop(): Promise<void> {
    this.stopControllers();
    for (const n of this.nodes.values()) {
      n.session.stop();
      await n.agent.stop();
    }
    this.dispatcher?.stopLeading();
    this.server.forceShutdown();
  }

  async createService(spec: ServiceSpec): Promise<Service> {
    const { value } = await this.store.update((tx) =>
      tx.create('service', {
        id: `svc-${spec.name}`,
        spec,
        specVersion: 1,
        endpoint: { ports: [], virtualIps: [] },
      }),
    );
    return value;
  }

  tasks(serviceId?: string): Task[] {
    return this.store.view((tx) => (serviceId ? tx.find('task', 'service', serviceId) : tx.list('task')));
  }

  running(serviceId: string): Task[] {
    return this.tasks(serviceId).filter((t) => t.status.state === 'running' && t.desiredState === 'running');
  }
}
