// The manager role of a daemon: one gRPC server on the manager port (mutual TLS) carrying Raft, the
// CA, the control API and the dispatcher; the Raft node whose state machine is the store; and the
// controllers that run while this manager leads.
import * as grpc from '@grpc/grpc-js';
import { hostname } from 'node:os';
import { newId } from '../lib/ids.js';
import type { Logger } from '../lib/log.js';
import { join } from 'node:path';
import { GrpcError, requireCaller } from './ca/authz.js';
import { clientCredentials, MANAGER_CHANNEL_OPTIONS, type TlsMaterialProvider } from './ca/credentials.js';
import { caServiceDefinition, createCaService } from './ca/service.js';
import { bindManagerPort } from './ca/handshakes.js';
import { explainingConsensusErrors } from './consensus-errors.js';
import { controlHandlers, managerAddrs, type Caller, type ControlContext } from './controlapi/control.js';
import { Dispatcher } from './dispatcher/dispatcher.js';
import { leaderOnlyUnary, notLeaderError, type LeaderInfo } from './leadership.js';
import { openRaftNode } from './raft/node/open.js';
import type { RaftNode } from './raft/node/raft-node.js';
import { Role } from './raft/types.js';
import { RoleReconciler } from './roles.js';
import { planLeadership } from './leading.js';
import { afterReadIndex, leaderOrLocalRead } from './read-index.js';
import { AllocatorController } from './allocator/controller.js';
import { SchedulerController } from './scheduler/controller.js';
import { OrchestratorController } from './orchestrator/controller.js';
import { ingressNetwork } from './allocator/ingress.js';
import { KeyManager } from './keymanager.js';
import { overlayRotationFromEnv } from './overlay-keys.js';
import {
  serveExecCall,
  startExec,
  streamLogs,
  type ExecRequest,
  type LogsRequest,
  type Sink,
  type StreamDeps,
} from './controlapi/streams.js';
import { findTask, tasksFor } from './controlapi/lookup.js';
import { serviceHandlers } from './controlapi/service-handlers.js';
import type { ImageResolver } from './controlapi/service-context.js';
import type { ControlUnaryHandlers } from './controlapi/service-context.js';
import { localCalls, serveUnary } from '../api/calls.js';
import {
  services,
  type ControlCalls,
  type ControlClient,
  type ControlDefinition,
  type ControlHandlers,
} from '../api/rpc.js';
import type { ExecInput, ExecOutput, LogMessage } from './dispatcher/node-work.js';
import { Store, swarmSchema } from './store/index.js';
import { type Cluster, type Node, type SwarmObjects } from '../api/objects/index.js';

/** Where a manager keeps its Raft log and snapshots, under the daemon's data root. */
export const raftDataDir = (dataRoot: string) => join(dataRoot, 'raft');
export interface ManagerConfig {
  dataRoot: string;
  nodeId: string;
  clusterId: string;
  raftId: number;
  /** host:port to bind. */
  listenAddr: string;
  /** host:port the other managers and the nodes dial. */
  advertiseAddr: string;
  tls: TlsMaterialProvider;
  /** bootstrap: a new single-member cluster; join: an empty member the leader will add; restart: from disk. */
  mode: 'bootstrap' | 'join' | 'restart';
  log: Logger;
  /** Pins service images to digests through this node's image service; absent: images stay as sent. */
  resolveImage?: ImageResolver;
}

const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
  'grpc.keepalive_permit_without_calls': 1,
};

export class Manager implements LeaderInfo {
  readonly store: Store<SwarmObjects>;
  private raftNode: RaftNode | undefined;
  private readonly server = new grpc.Server(SERVER_OPTIONS);
  private dispatcher!: Dispatcher;
  private roles!: RoleReconciler;
  /** Leader-only reconcilers of services, tasks and their resources (DESIGN.md §3). */
  private allocator!: AllocatorController;
  private controllers: { start(): void; stop(): void }[] = [];
  private leading = false;
  private control!: ControlUnaryHandlers;

  private constructor(private readonly cfg: ManagerConfig) {
    this.store = new Store({
      schema: swarmSchema,
      proposer: { propose: (data) => this.raft.propose(data) },
      logger: cfg.log.child({ component: 'store' }),
    });
  }

  get raft(): RaftNode {
    if (!this.raftNode) throw new Error('manager: Raft is not started');
    return this.raftNode;
  }

  isLeader(): boolean {
    return !!this.raftNode?.isLeader;
  }

  leaderAddr(): string {
    return this.raftNode?.leader.addr ?? '';
  }

  private caCertPem = () => this.cfg.tls.current.caCertPem;
  /** Only a tombstone refuses a certificate: a joining member must accept the leader before it knows it. */
  private isRemoved = (nodeId: string) => this.store.view((tx) => tx.get('node', nodeId))?.removed === true;
  /**
   * A manager certificate outlives a demotion until it is renewed, so manager-only RPCs also ask the
   * store: a node that is a worker both in fact and in intent is refused. (A node being promoted has
   * only the desired role; one being demoted keeps the observed role until Raft lets it go.)
   */
  private notAManager = (nodeId: string, unknownIsManager: boolean) => {
    const n = this.store.view((tx) => tx.get('node', nodeId));
    if (!n) return !unknownIsManager;
    return n.removed === true || (n.role !== 'manager' && n.spec.role !== 'manager');
  };

  static async start(cfg: ManagerConfig): Promise<Manager> {
    const m = new Manager(cfg);
    try {
      await m.startServices();
    } catch (err) {
      // E.g. the manager port is taken: nothing of this manager may keep running (or hold LMDB open).
      await m.stop().catch(() => {});
      throw err;
    }
    return m;
  }

  private async startServices(): Promise<void> {
    const { cfg } = this;
    const log = cfg.log.child({ component: 'manager' });
    this.raftNode = await openRaftNode({
      id: cfg.raftId,
      dataDir: raftDataDir(cfg.dataRoot),
      stateMachine: this.store,
      transport: {
        server: this.server,
        advertiseAddr: cfg.advertiseAddr,
        // Raft peers authenticate as managers of this swarm, both ways; renewals arrive through
        // certificateRenewed().
        channelCredentials: clientCredentials(cfg.tls.current),
        channelOptions: MANAGER_CHANNEL_OPTIONS,
        authorize: (call) => {
          try {
            // A member that is still catching up may not know the leader's node yet: unknown is allowed.
            const caller = requireCaller(call, this.caCertPem(), {
              roles: ['manager'],
              isRemoved: this.isRemoved,
            });
            return !this.notAManager(caller.nodeId, true);
          } catch {
            return false;
          }
        },
      },
      bootstrap: cfg.mode === 'bootstrap' ? true : undefined,
    });
    const ctx: ControlContext = {
      store: this.store,
      raft: this.raft,
      clusterId: cfg.clusterId,
      caCertPem: this.caCertPem,
      isRemoved: this.isRemoved,
    };
    // Network and service calls read the allocator controller's live state for conflict checks.
    this.allocator = new AllocatorController({ store: this.store, clusterId: cfg.clusterId, log });
    // Served from the store only once it holds everything committed before the call (read-index.ts);
    // consensus failures reach users in their terms (consensus-errors.ts).
    this.control = explainingConsensusErrors(
      afterReadIndex(this.raft, {
        ...controlHandlers(ctx),
        ...serviceHandlers({
          store: this.store,
          allocation: () => this.allocator.allocation(),
          ...(cfg.resolveImage ? { resolveImage: cfg.resolveImage } : {}),
        }),
      }),
      log,
    );
    this.dispatcher = new Dispatcher({
      store: this.store,
      leader: this,
      caCertPem: this.caCertPem,
      isRemoved: this.isRemoved,
      exec: (req, sink) => this.exec(req, sink),
      heartbeatPeriodMs: () =>
        this.store.view((tx) => tx.get('cluster', cfg.clusterId))?.spec.dispatcher.heartbeatPeriodMs ?? 1_000,
      log,
    });
    this.roles = new RoleReconciler(this.store, this.raft, log);
    this.controllers = [
      this.roles,
      this.allocator,
      new OrchestratorController({ store: this.store, log }),
      new SchedulerController({ store: this.store, log }),
      new KeyManager({
        store: this.store,
        clusterId: cfg.clusterId,
        log,
        ...overlayRotation(process.env.SWARMLITE_OVERLAY_KEY_ROTATION_MS),
      }),
    ];
    this.addServices(ctx);
    await bindManagerPort(this.server, cfg.listenAddr, cfg.tls);
    this.raft.on('role', (role: Role) => this.onRole(role));
    this.onRole(this.raft.status().role);
    log.info(
      { listen: cfg.listenAddr, advertise: cfg.advertiseAddr, raftId: cfg.raftId, mode: cfg.mode },
      'manager started',
    );
  }

  private addServices(ctx: ControlContext): void {
    const ca = createCaService({
      getCluster: () => {
        const c = this.cluster();
        return {
          clusterId: c.id,
          caCertPem: c.rootCA.certPem,
          caKeyPem: c.rootCA.keyPem,
          workerToken: c.joinTokens.worker,
          managerToken: c.joinTokens.manager,
          nodeCertValidityMs: c.spec.caConfig.nodeCertValidityMs,
        };
      },
      registerNode: async (req) => {
        await this.store.update((tx) =>
          tx.create('node', newNodeObject(req.nodeId, req.role, req.hostname, req.addr)),
        );
      },
      // Renewals get the desired role: that is how a promotion or demotion reaches the node.
      lookupNode: (id) => {
        const n = this.store.view((tx) => tx.get('node', id));
        return n ? { role: n.spec.role, removed: n.removed === true } : undefined;
      },
      newNodeId: newId,
      managerAddrs: () => managerAddrs(ctx),
    });
    this.server.addService(caServiceDefinition(), {
      ...ca,
      IssueNodeCertificate: leaderOnlyUnary(this, ca.IssueNodeCertificate),
    });
    const controlImpl: ControlHandlers = {
      ...serveUnary<ControlHandlers, ControlUnaryHandlers, [Caller]>(this.control, (_name, handler) =>
        leaderOrLocalRead(this, (call, callback) => {
          let caller: Caller;
          try {
            caller = requireCaller(call, this.caCertPem(), { roles: ['manager'], isRemoved: this.isRemoved });
            if (this.notAManager(caller.nodeId, false)) {
              throw new GrpcError(
                grpc.status.PERMISSION_DENIED,
                `node ${caller.nodeId} is no longer a manager`,
              );
            }
          } catch (err) {
            return callback(err as grpc.ServiceError);
          }
          handler(call.request, caller).then(
            (res) => callback(null, res),
            (err) => callback(toServiceError(err)),
          );
        }),
      ),
      ...this.streamHandlers(),
    };
    this.server.addService(services.control().service, controlImpl);
    this.server.addService(services.dispatcher().service, this.dispatcher.handlers());
  }

  /** The TLS provider already serves the new certificate; Raft's client channels switch to it too. */
  certificateRenewed(): void {
    this.raftNode?.updateChannelCredentials(clientCredentials(this.cfg.tls.current));
  }

  private streamDeps(): StreamDeps {
    return {
      relay: this.dispatcher.relay,
      tasksFor: (refs) => this.store.view((tx) => tasksFor(tx, refs)),
      findTask: (ref) => this.store.view((tx) => findTask(tx, ref)),
    };
  }

  /** `service logs` on the leader; returns the cancel function. */
  serviceLogs(req: LogsRequest, sink: Sink<LogMessage>): () => void {
    if (!this.isLeader()) throw notLeaderError(this);
    return streamLogs(this.streamDeps(), req, sink);
  }

  /** `exec` on the leader. */
  exec(req: ExecRequest, sink: Sink<ExecOutput>): { input(i: ExecInput): void; cancel(): void } {
    if (!this.isLeader()) throw notLeaderError(this);
    return startExec(this.streamDeps(), req, sink);
  }

  /** The Control service's streaming calls, for other managers relaying their CLI's requests. */
  private streamHandlers(): Pick<ControlHandlers, 'ServiceLogs' | 'Exec'> {
    const authorize = (call: Parameters<typeof requireCaller>[0]) => {
      const caller = requireCaller(call, this.caCertPem(), { roles: ['manager'], isRemoved: this.isRemoved });
      if (this.notAManager(caller.nodeId, false)) {
        throw new GrpcError(grpc.status.PERMISSION_DENIED, `node ${caller.nodeId} is no longer a manager`);
      }
    };
    const sinkOf = <T>(
      call: grpc.ServerWritableStream<unknown, T> | grpc.ServerDuplexStream<unknown, T>,
    ): Sink<T> => ({
      write: (m) => call.write(m),
      end: () => call.end(),
      fail: (err) => call.emit('error', toServiceError(err)),
    });
    return {
      ServiceLogs: (call) => {
        try {
          authorize(call);
          const cancel = this.serviceLogs(call.request, sinkOf(call));
          call.on('cancelled', cancel);
        } catch (err) {
          call.emit('error', toServiceError(err));
        }
      },
      Exec: (call) =>
        serveExecCall(
          call,
          (req, sink) => this.exec(req, sink),
          toServiceError,
          () => authorize(call),
        ),
    };
  }

  /** Control calls run here (when leading); used by the local API to skip a network hop. */
  controlCalls(): ControlCalls {
    // A local caller is this node itself, a manager: its certificate was checked when it was issued.
    const self: Caller = { nodeId: this.cfg.nodeId, role: 'manager' };
    return localCalls<ControlClient, ControlDefinition, [Caller]>(
      this.control,
      services.control().service,
      self,
    );
  }

  private cluster(): Cluster {
    const c = this.store.view((tx) => tx.get('cluster', this.cfg.clusterId));
    if (!c) throw new GrpcError(grpc.status.UNAVAILABLE, 'this manager has not caught up with the swarm yet');
    return c;
  }

  private onRole(role: Role): void {
    const plan = planLeadership(this.leading, role);
    if (plan.steps.length === 0) return;
    this.leading = plan.leading;
    this.cfg.log.info(
      { leading: plan.leading },
      plan.leading ? 'this manager is now the leader' : 'this manager is no longer the leader',
    );
    for (const step of plan.steps) {
      if (step === 'start-dispatcher') this.dispatcher.startLeading();
      else if (step === 'stop-dispatcher') this.dispatcher.stopLeading();
      else if (step === 'start-controllers') for (const c of this.controllers) c.start();
      else for (const c of this.controllers) c.stop();
    }
  }

  /** Creates the cluster and this node's objects right after bootstrapping a new swarm. */
  async initializeCluster(cluster: Omit<Cluster, 'meta'>, self: Omit<Node, 'meta'>): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!this.isLeader()) {
      if (Date.now() > deadline) throw new Error('the new single-member Raft cluster elected no leader');
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.store.update((tx) => {
      tx.create('cluster', cluster);
      tx.create('node', self);
      // The routing mesh's network exists from the start, as in Docker (the allocator gives it its range).
      tx.create('network', ingressNetwork(newId()));
    });
  }

  async stop(): Promise<void> {
    this.dispatcher?.stopLeading();
    for (const c of this.controllers) c.stop();
    await this.raftNode?.stop();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2_000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function toServiceError(err: unknown): grpc.ServiceError {
  if ((err as grpc.ServiceError).code !== undefined && (err as grpc.ServiceError).details !== undefined) {
    return err as grpc.ServiceError;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new GrpcError(grpc.status.UNKNOWN, message);
}

export function newNodeObject(
  id: string,
  role: Node['role'],
  host: string,
  addr: string,
): Omit<Node, 'meta'> {
  return {
    id,
    spec: { role, availability: 'active', labels: {} },
    role: role === 'manager' ? 'worker' : role, // a manager's role becomes manager once it is a Raft voter
    status: { state: 'unknown', message: '', addr },
    description: {
      hostname: host || hostname(),
      platform: { os: process.platform, arch: process.arch },
      resources: { nanoCpus: 0, memoryBytes: 0 },
      engineVersion: '',
    },
    certificate: { role, certPem: '', status: 'issued' },
  };
}

/** The overlay key schedule of this manager: Docker's 12 h, or a lab's short one from its environment. */
function overlayRotation(env: string | undefined): { overlayRotationMs: number; overlayOverlapMs: number } {
  const { periodMs, overlapMs } = overlayRotationFromEnv(env);
  return { overlayRotationMs: periodMs, overlayOverlapMs: overlapMs };
}
