// This daemon's part in a swarm: init, join and leave; the manager role when it has one; the
// dispatcher session every node keeps; and the role switches a promotion or demotion asks for.
import * as grpc from '@grpc/grpc-js';
import { randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { arch, cpus, hostname, platform, totalmem } from 'node:os';
import { UserError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { packageVersion } from '../lib/repo.js';
import {
  clientCredentials,
  MANAGER_CHANNEL_OPTIONS,
  TlsMaterialProvider,
  type TlsMaterial,
} from '../manager/index.js';
import { clusterIdOfCA } from '../manager/index.js';
import { CertificateRenewer } from './cert-renewal.js';
import { callLeader } from '../manager/index.js';
import { pipeExec, routeControl, routeExec, routeLogs } from '../manager/index.js';
import type { ExecRequest, LogsRequest, Sink } from '../manager/index.js';
import type { ExecInput, ExecOutput, LogMessage } from '../manager/index.js';
import { Manager } from '../manager/index.js';
import { forceNewCluster, raftDataDir } from '../manager/index.js';
import { DispatcherSession, type SessionMessage } from '../worker/agent/session.js';
import { Agent } from '../worker/agent/agent.js';
import { NodeWorkServer } from '../worker/agent/node-work.js';
import { NetworkPlane } from './network-plane.js';
import type { Executor } from '../worker/agent/executor.js';
import { createExecutor } from './executor.js';
import type { DaemonOptions } from './options.js';
import { chooseAdvertiseIp, splitHostPort } from './swarm-addr.js';
import { createSwarm, renewCertificateAtLeader, requestCertificateAtLeader } from './swarm-pki.js';
import {
  clearSwarmState,
  loadCertificates,
  loadSwarmState,
  saveCertificates,
  saveSwarmState,
  type NodeCertificates,
  type SwarmState,
} from './swarm-state.js';

export const NOT_A_MANAGER =
  "this node is not a swarm manager: run this on a manager, or use 'swarmlite init' / 'swarmlite join' to make this node part of a swarm";
const ALREADY_IN_SWARM = "this node is already part of a swarm: use 'swarmlite leave' first to leave it";
const NOT_IN_SWARM = "this node is not part of a swarm: use 'swarmlite init' or 'swarmlite join' first";

export interface InitRequest {
  advertiseAddr: string;
  listenAddr: string;
  forceNewCluster: boolean;
  defaultAddrPool: string[];
  defaultAddrPoolMaskLength: number;
  dispatcherHeartbeatMs: number;
  nodeCertExpiryMs: number;
  maxReplicas?: number;
  maxTasksPerNode?: number;
}

export interface JoinRequest {
  token: string;
  remoteAddr: string;
  advertiseAddr: string;
  listenAddr: string;
}

/** Raft member ids: random, so a re-joining manager never reuses a retired one. */
const newRaftId = () => randomInt(1, 2 ** 47);

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

export class SwarmNode {
  private state: SwarmState | undefined;
  private certs: NodeCertificates | undefined;
  private tls: TlsMaterialProvider | undefined;
  private credentialsFor: { material: TlsMaterial; creds: grpc.ChannelCredentials } | undefined;
  private manager: Manager | undefined;
  private session: DispatcherSession | undefined;
  /** Runs the tasks assigned to this node; lives as long as the node is in a swarm. */
  private agent: Agent | undefined;
  private nodeWork: NodeWorkServer | undefined;
  /** Gossip and overlays (real runtime only). */
  private network: NetworkPlane | undefined;
  private readonly renewer = new CertificateRenewer(
    () => this.tls?.current.certPem,
    () =>
      this.serially(async () => {
        if (!this.state) return;
        const renewed = await this.renewAtLeader();
        this.installCertificate(renewed);
        this.persist();
        this.log.info({ role: renewed.role }, 'node certificate renewed');
      }),
    (err) => this.log.warn({ err: errorMessage(err) }, 'certificate renewal failed; retrying'),
  );
  /** The dispatcher's latest word about this node (a failed role switch looks at it again). */
  private lastMessage: SessionMessage | undefined;
  /** Why the saved swarm state could not be resumed; only `leave --force` is accepted then. */
  private broken: string | undefined;
  /** One membership operation at a time (init/join/leave/role switch). */
  private busy: Promise<unknown> = Promise.resolve();

  private executorInstance: Executor | undefined;

  constructor(
    private readonly opts: DaemonOptions,
    private readonly log: Logger,
  ) {}

  /** Made on first use: a daemon outside any swarm runs no tasks. */
  private get executor(): Executor {
    this.executorInstance ??= createExecutor(this.opts, this.log.child({ component: 'executor' }));
    return this.executorInstance;
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => {});
    return run;
  }

  /** On daemon start: carry on in the swarm this node was part of. */
  /**
   * On daemon start: carry on in the swarm this node was part of. A swarm state that cannot be used
   * (unreadable, certificates missing, Raft log corrupt) does not stop the daemon: it reports the
   * problem in `info` and accepts `leave --force`, so the node can be reset without hand-editing files.
   */
  async resume(): Promise<void> {
    try {
      const state = loadSwarmState(this.opts.dataRoot);
      if (!state) return;
      const certs = loadCertificates(this.opts.dataRoot);
      if (!certs) throw new UserError(`the swarm certificates in ${this.opts.dataRoot} are missing or torn`);
      this.state = state;
      this.certs = certs;
      this.tls = new TlsMaterialProvider(certs);
      if (state.role === 'manager') await this.startManager('restart');
      this.startSession();
      this.log.info({ nodeId: state.nodeId, role: state.role }, 'rejoined the swarm from saved state');
      if (state.role === 'manager') void this.ensureRaftMembership();
    } catch (err) {
      this.broken = errorMessage(err);
      this.session?.stop();
      this.session = undefined;
      await this.manager?.stop().catch(() => {});
      this.manager = undefined;
      this.state = undefined;
      this.log.error({ err: this.broken }, "cannot resume this node's swarm membership");
    }
  }

  /**
   * A manager that crashed between saving its state and the leader adding it to Raft restarts as an
   * empty member nobody talks to: ask the leader again (JoinRaft is idempotent for the same id).
   */
  private async ensureRaftMembership(): Promise<void> {
    const s = this.state;
    const m = this.manager;
    if (!s || !m) return;
    await new Promise((r) => setTimeout(r, 3_000).unref());
    if (this.manager !== m || m.raft.status().members.some((x) => x.id === s.raftId)) return;
    this.log.warn('this manager is in no Raft membership: asking the leader to add it');
    await this.callLeader('JoinRaft', { nodeId: s.nodeId, raftId: s.raftId, addr: s.advertiseAddr }).catch(
      (err) => this.log.error({ err: errorMessage(err) }, 'could not rejoin the Raft membership'),
    );
  }

  get nodeId(): string | undefined {
    return this.state?.nodeId;
  }

  info() {
    const s = this.state;
    if (this.broken) return { swarmState: 'error', swarmError: this.broken };
    if (!s) return { swarmState: 'inactive' };
    const m = this.manager;
    const base = {
      swarmState: this.session?.current || m?.isLeader() ? 'active' : 'pending',
      clusterId: s.clusterId,
      nodeId: s.nodeId,
      role: s.role,
      managerAddrs: this.session?.knownManagers() ?? s.managers,
    };
    if (!m) return base;
    const status = m.raft.status();
    const nodes = m.store.view((tx) => tx.list('node')).filter((n) => !n.removed);
    return {
      ...base,
      isLeader: m.isLeader(),
      leaderAddr: m.leaderAddr(),
      nodes: nodes.length,
      managers: nodes.filter((n) => n.role === 'manager').length,
      raftStatus: `${status.role} term ${status.term} commit ${status.commit} applied ${status.applied}`,
    };
  }

  // ------------------------------------------------------------------------------------ init/join

  init(
    req: InitRequest,
  ): Promise<{ nodeId: string; workerToken: string; managerToken: string; managerAddr: string }> {
    if (req.forceNewCluster) return this.serially(() => this.recoverQuorum());
    return this.serially(async () => {
      this.assertOutsideSwarm();
      const { ip, managerAddr: advertiseAddr } = this.addresses(req);
      const raftId = newRaftId();
      const swarm = await createSwarm({ ...req, advertiseIp: ip, managerAddr: advertiseAddr, raftId });
      const { clusterId, nodeId } = swarm;
      const state: SwarmState = {
        clusterId,
        nodeId,
        role: 'manager',
        listenAddr: req.listenAddr,
        advertiseAddr,
        raftId,
        managers: [advertiseAddr],
      };
      this.adopt(state, swarm.certs);
      try {
        await this.startManager('bootstrap');
        await this.manager!.initializeCluster(swarm.cluster, swarm.self);
        const tokens = swarm.cluster.joinTokens;
        this.persist();
        this.startSession();
        this.log.info({ clusterId, nodeId, advertiseAddr }, 'swarm initialized');
        return {
          nodeId,
          workerToken: tokens.worker,
          managerToken: tokens.manager,
          managerAddr: advertiseAddr,
        };
      } catch (err) {
        await this.reset();
        throw err;
      }
    });
  }

  /** Quorum lost: restart this manager's Raft as the only member, keeping the swarm's state. */
  private async recoverQuorum() {
    const s = this.state;
    if (!s || s.role !== 'manager') {
      throw new UserError(
        '--force-new-cluster recovers a swarm from one of its managers: this node is not one',
      );
    }
    this.session?.stop();
    this.session = undefined;
    await this.manager?.stop();
    this.manager = undefined;
    const forced = await forceNewCluster(raftDataDir(this.opts.dataRoot), s.raftId, s.advertiseAddr);
    this.log.warn(
      { index: forced.index, dropped: forced.dropped },
      'forced a new single-manager cluster from local state',
    );
    s.managers = [s.advertiseAddr];
    this.persist();
    await this.startManager('restart');
    const deadline = Date.now() + 15_000;
    while (!this.manager!.isLeader()) {
      if (Date.now() > deadline) throw new UserError('the forced cluster elected no leader');
      await new Promise((r) => setTimeout(r, 20));
    }
    this.startSession();
    const tokens = this.manager!.store.view((tx) => tx.get('cluster', s.clusterId))!.joinTokens;
    return {
      nodeId: s.nodeId,
      workerToken: tokens.worker,
      managerToken: tokens.manager,
      managerAddr: s.advertiseAddr,
    };
  }

  private assertOutsideSwarm(): void {
    if (this.broken) {
      throw new UserError(
        `this node's swarm state is broken (${this.broken}): use 'swarmlite leave --force' first`,
      );
    }
    if (this.state) throw new UserError(ALREADY_IN_SWARM);
  }

  /** The IP this node advertises, and host:port other managers reach its manager port at. */
  private addresses(req: { advertiseAddr: string; listenAddr: string }): { ip: string; managerAddr: string } {
    const ip = chooseAdvertiseIp(req.advertiseAddr, this.opts.advertiseAddr);
    const { port } = splitHostPort(req.listenAddr);
    return { ip, managerAddr: req.advertiseAddr.includes(':') ? req.advertiseAddr : `${ip}:${port}` };
  }

  join(req: JoinRequest): Promise<{ nodeId: string; role: string }> {
    return this.serially(async () => {
      this.assertOutsideSwarm();
      const { ip, managerAddr } = this.addresses(req);
      const issued = await requestCertificateAtLeader({
        remoteAddr: req.remoteAddr,
        token: req.token,
        advertiseAddr: managerAddr,
      });
      const state: SwarmState = {
        clusterId: '',
        nodeId: issued.nodeId,
        role: issued.role,
        listenAddr: req.listenAddr,
        advertiseAddr: issued.role === 'manager' ? managerAddr : ip,
        raftId: issued.role === 'manager' ? newRaftId() : 0,
        managers: issued.managerAddrs.length ? issued.managerAddrs : [req.remoteAddr],
      };
      state.clusterId = clusterIdOfCA(issued.caCertPem);
      this.adopt(state, { caCertPem: issued.caCertPem, certPem: issued.certPem, keyPem: issued.keyPem });
      try {
        // Saved before the leader adds a manager to Raft: a crash from here on restarts as this node
        // (and asks to be added again), never as a stranger that left a dead voter behind.
        this.persist();
        if (issued.role === 'manager') await this.becomeManager();
        this.startSession();
        this.log.info({ nodeId: issued.nodeId, role: issued.role }, 'joined the swarm');
        return { nodeId: issued.nodeId, role: issued.role };
      } catch (err) {
        if (issued.role === 'manager') await this.leaveRaftQuietly();
        await this.reset();
        throw err;
      }
    });
  }

  // ------------------------------------------------------------------------------------ leave

  leave(force: boolean): Promise<void> {
    return this.serially(async () => {
      if (this.broken) {
        if (!force)
          throw new UserError(
            `this node's swarm state is broken (${this.broken}): use 'swarmlite leave --force' to reset it`,
          );
        this.broken = undefined;
        await this.reset();
        return;
      }
      const s = this.state;
      if (!s) throw new UserError(NOT_IN_SWARM);
      if (s.role === 'manager' && !force) {
        const managers = this.manager
          ? this.manager.raft.status().members.filter((m) => !m.learner).length
          : 1;
        throw new UserError(
          `this node is a manager of the swarm (one of ${managers}); leaving removes it from the Raft membership` +
            (managers <= 2 ? ' and the remaining managers lose their quorum' : '') +
            `. Demote it first ('swarmlite node demote'), or use --force.`,
        );
      }
      if (s.role === 'manager' && this.manager) {
        const others = this.manager.raft.status().members.filter((m) => m.id !== s.raftId);
        if (others.length > 0) {
          await this.callLeader('LeaveRaft', { nodeId: s.nodeId }).catch((err) =>
            this.log.warn(
              { err: errorMessage(err) },
              'could not leave the Raft membership cleanly; leaving anyway',
            ),
          );
        }
      }
      await this.reset();
      this.log.info('left the swarm');
    });
  }

  /** Stops everything swarm-related and forgets the swarm (certificates, Raft log, state). */
  private async reset(): Promise<void> {
    this.renewer.stop();
    this.session?.stop();
    this.session = undefined;
    // Gossip first, so the other nodes drop this node's endpoints at once; then the tasks (Docker
    // removes a leaving node's service containers too), then what the overlays made for them.
    await this.network?.leave();
    await this.agent?.removeAll().catch((err: unknown) => this.log.warn({ err }, 'task cleanup failed'));
    this.agent = undefined;
    this.nodeWork?.detach();
    await this.network?.removeAll();
    this.network = undefined;
    await this.manager?.stop().catch(() => {});
    this.manager = undefined;
    this.state = undefined;
    this.certs = undefined;
    this.tls = undefined;
    clearSwarmState(this.opts.dataRoot);
  }

  async stop(): Promise<void> {
    this.renewer.stop();
    // Tasks keep running while the daemon is down; the next start adopts them.
    this.agent?.detach();
    this.nodeWork?.detach();
    await this.network?.stop();
    this.session?.stop();
    await this.manager?.stop();
  }

  // ------------------------------------------------------------------------------------ control

  /** A control-API call from the local CLI: only on a manager, executed on the leader. */
  async control(method: string, request: Record<string, unknown>): Promise<unknown> {
    if (!this.state || !this.manager) throw new UserError(NOT_A_MANAGER);
    return routeControl(this.manager, method, request, {
      managers: this.session?.knownManagers() ?? this.state.managers,
      credentials: this.credentials(),
    });
  }

  /** What this node holds of a network (its endpoints, peers, kernel state): `network inspect`. */
  async networkLocal(req: { networkId?: string; vni?: number; verbose?: boolean }) {
    if (!this.network) return { endpoints: [], peers: [], programmedJson: '' };
    return this.network.view(String(req.networkId ?? ''), Number(req.vni ?? 0), req.verbose === true);
  }

  /** `service logs` from the local CLI: through the leader, from every node holding one of the tasks. */
  serviceLogs(req: LogsRequest, sink: Sink<LogMessage>): () => void {
    if (!this.state || !this.manager) throw new UserError(NOT_A_MANAGER);
    return routeLogs(this.manager, req, sink, this.credentials());
  }

  /** `exec` from the local CLI: through the leader, on the node running the task. */
  exec(req: ExecRequest, sink: Sink<ExecOutput>): { input(i: ExecInput): void; cancel(): void } {
    if (!this.state) throw new UserError(NOT_IN_SWARM);
    if (this.manager) return routeExec(this.manager, req, sink, this.credentials());
    // A worker goes through its dispatcher session: the leader finds the node that runs the task.
    const stream = this.session?.exec();
    if (!stream) throw new UserError('this node is not connected to a manager right now; try again shortly');
    return pipeExec(stream as grpc.ClientDuplexStream<object, ExecOutput>, req, sink);
  }

  private callLeader(method: string, request: object): Promise<unknown> {
    const leader = this.manager?.leaderAddr();
    const known = this.session?.knownManagers() ?? this.state!.managers;
    return callLeader({
      protoFile: 'control.proto',
      service: 'swarmlite.control.v1.Control',
      method,
      request,
      managers: [...new Set([...(leader ? [leader] : []), ...known])],
      credentials: this.credentials(),
    });
  }

  /** One set of client credentials per certificate generation: each costs a TLS context to build. */
  private credentials(): grpc.ChannelCredentials {
    const c = this.tls!.current;
    if (this.credentialsFor?.material !== c) {
      const creds = clientCredentials({ caCertPem: c.caCertPem, certPem: c.certPem, keyPem: c.keyPem });
      this.credentialsFor = { material: c, creds };
    }
    return this.credentialsFor.creds;
  }

  // ------------------------------------------------------------------------------------ roles

  private adopt(state: SwarmState, certs: NodeCertificates): void {
    this.state = state;
    this.certs = certs;
    this.tls = new TlsMaterialProvider(certs);
  }

  private persist(): void {
    saveCertificates(this.opts.dataRoot, this.certs!);
    saveSwarmState(this.opts.dataRoot, this.state!);
  }

  private async startManager(mode: 'bootstrap' | 'join' | 'restart'): Promise<void> {
    const s = this.state!;
    this.manager = await Manager.start({
      dataRoot: this.opts.dataRoot,
      nodeId: s.nodeId,
      clusterId: s.clusterId,
      raftId: s.raftId,
      listenAddr: s.listenAddr,
      advertiseAddr: s.advertiseAddr,
      tls: this.tls!,
      mode,
      log: this.log,
    });
  }

  /** Starts an empty Raft member and asks the leader to add it (learner, then voter once caught up). */
  /** Best effort: take this node out of the Raft membership after a failed join or promotion. */
  private async leaveRaftQuietly(): Promise<void> {
    const s = this.state;
    if (!s || !this.tls) return;
    await this.callLeader('LeaveRaft', { nodeId: s.nodeId }).catch((err) =>
      this.log.warn({ err: errorMessage(err) }, 'could not take this node out of the Raft membership'),
    );
  }

  private async becomeManager(): Promise<void> {
    const s = this.state!;
    await this.startManager('join');
    await this.callLeader('JoinRaft', { nodeId: s.nodeId, raftId: s.raftId, addr: s.advertiseAddr });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const st = this.manager!.raft.status();
      const me = st.members.find((m) => m.id === s.raftId);
      if (me && !me.learner && st.leader) break;
      if (Date.now() > deadline)
        throw new UserError('timed out waiting to become a Raft voter (is the leader reachable?)');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private startSession(): void {
    this.renewer.start();
    const s = this.state!;
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
    }
    this.agent ??= new Agent({
      executor: this.executor,
      ...(this.network ? { network: this.network.attacher() } : {}),
      node: { id: s.nodeId, hostname: hostname() },
      log: this.log.child({ component: 'agent' }),
    });
    const managers = s.role === 'manager' ? [s.advertiseAddr, ...s.managers] : s.managers;
    const session = new DispatcherSession({
      managers: [...new Set(managers)],
      credentials: () => this.credentials(),
      channelOptions: MANAGER_CHANNEL_OPTIONS,
      description: describeHost(),
      addr: vtep,
      log: this.log,
    });
    session.on('message', (msg: SessionMessage) => {
      this.network?.onSessionMessage(msg);
      this.onSessionMessage(msg);
    });
    session.on('removed', () => {
      this.log.error('this node was removed from the swarm');
      void this.serially(() => this.reset());
    });
    this.session = session;
    this.agent.attach(session);
    this.nodeWork ??= new NodeWorkServer(this.executor, this.log.child({ component: 'node-work' }));
    this.nodeWork.attach(session);
    session.start();
  }

  private retryRoleLater(): void {
    setTimeout(() => this.lastMessage && this.onSessionMessage(this.lastMessage), 5_000).unref();
  }

  private onSessionMessage(msg: SessionMessage): void {
    this.lastMessage = msg;
    const s = this.state;
    if (!s) return;
    const managers = msg.managers.map((m) => m.addr);
    if (managers.length && managers.join() !== s.managers.join()) {
      s.managers = managers;
      saveSwarmState(this.opts.dataRoot, s);
    }
    const node = msg.node;
    if (!node) return;
    const switchTo = (role: 'manager' | 'worker') =>
      void this.serially(() => this.switchRole(role)).catch((err) => {
        this.log.warn({ err: errorMessage(err), role }, 'role switch failed; retrying');
        this.retryRoleLater();
      });
    if (s.role === 'worker' && node.spec.role === 'manager') switchTo('manager');
    if (s.role === 'manager' && node.role === 'worker' && node.spec.role === 'worker') switchTo('worker');
  }

  private installCertificate(c: { caCertPem: string; certPem: string; keyPem: string }): void {
    this.certs = { caCertPem: c.caCertPem, certPem: c.certPem, keyPem: c.keyPem };
    this.tls!.update(this.certs);
    this.manager?.certificateRenewed();
  }

  /** Promotion or demotion reached this node: renew the certificate for the new role and act on it. */
  private async switchRole(role: 'manager' | 'worker'): Promise<void> {
    const s = this.state;
    if (!s || s.role === role) return;
    this.log.info({ role }, 'switching role');
    const renewed = await this.renewAtLeader();
    if (renewed.role !== role) return; // the store changed its mind meanwhile; the next message decides
    this.installCertificate(renewed);
    if (role === 'manager') {
      const before = { ...s };
      const { port } = splitHostPort(s.listenAddr);
      s.role = 'manager';
      s.raftId = newRaftId();
      s.advertiseAddr = s.advertiseAddr.includes(':') ? s.advertiseAddr : `${s.advertiseAddr}:${port}`;
      rmSync(raftDataDir(this.opts.dataRoot), { recursive: true, force: true }); // a fresh member
      this.persist();
      try {
        await this.becomeManager();
      } catch (err) {
        // Back to a plain worker; the session's next look at this node tries the promotion again.
        await this.leaveRaftQuietly();
        await this.manager?.stop().catch(() => {});
        this.manager = undefined;
        Object.assign(s, before);
        this.persist();
        throw err;
      }
    } else {
      await this.manager?.stop();
      this.manager = undefined;
      s.role = 'worker';
      s.raftId = 0;
    }
    this.persist();
  }

  private renewAtLeader() {
    return renewCertificateAtLeader(this.session?.knownManagers() ?? this.state!.managers, this.tls!.current);
  }
}
