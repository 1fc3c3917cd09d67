// This node's membership of a swarm: init (or --force-new-cluster), join, leave, and resuming after a
// restart, one operation at a time. It keeps the node's identity and certificates (SwarmCredentials,
// renewed by CertificateRenewer), runs what every node runs (WorkerRole), and hands the manager role to
// the RoleSupervisor.
import { UserError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { clusterIdOfCA, forceNewCluster, raftDataDir } from '../manager/index.js';
import { CertificateRenewer } from './cert-renewal.js';
import type { ImageService } from '../worker/images/images.js';
import type { DaemonOptions } from './options.js';
import { RoleSupervisor, newRaftId } from './role-supervisor.js';
import { nodeImageResolver } from './service-images.js';
import { chooseAdvertiseIp, splitHostPort } from './swarm-addr.js';
import { SwarmCredentials } from './swarm-credentials.js';
import { createSwarm, requestCertificateAtLeader } from './swarm-pki.js';
import type { SwarmState } from './swarm-state.js';
import { WorkerRole } from './worker-role.js';
import { Mutex } from '../lib/mutex.js';

const ALREADY_IN_SWARM = "this node is already part of a swarm: use 'swarmlite leave' first to leave it";
export const NOT_IN_SWARM =
  "this node is not part of a swarm: use 'swarmlite init' or 'swarmlite join' first";

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

export interface InitResult {
  nodeId: string;
  workerToken: string;
  managerToken: string;
  managerAddr: string;
}

export class Membership {
  readonly swarm: SwarmCredentials;
  readonly worker: WorkerRole;
  readonly roles: RoleSupervisor;
  private readonly renewer: CertificateRenewer;
  /** Why the saved swarm state could not be resumed; only `leave --force` is accepted then. */
  private brokenBecause: string | undefined;
  /** One membership operation at a time (init/join/leave/role switch/renewal). */
  private readonly busy = new Mutex();

  constructor(
    private readonly opts: DaemonOptions,
    private readonly log: Logger,
    images?: ImageService,
  ) {
    this.swarm = new SwarmCredentials(opts.dataRoot);
    this.worker = new WorkerRole(opts, log, images);
    this.roles = new RoleSupervisor({
      opts,
      log,
      swarm: this.swarm,
      knownManagers: () => this.knownManagers(),
      serially: (fn) => this.serially(fn),
      // The control API pins service images to digests with this node's logins and registries.
      ...(images ? { resolveImage: nodeImageResolver(images, log.child({ component: 'images' })) } : {}),
    });
    this.renewer = new CertificateRenewer(
      () => (this.swarm.state ? this.swarm.tls.current.certPem : undefined),
      () =>
        this.serially(async () => {
          if (!this.swarm.state) return;
          const renewed = await this.swarm.renewAtLeader(this.knownManagers());
          this.swarm.install(renewed);
          this.roles.certificateRenewed();
          this.swarm.persist();
          this.log.info({ role: renewed.role }, 'node certificate renewed');
        }),
      (err) => this.log.warn({ err: errorMessage(err) }, 'certificate renewal failed; retrying'),
    );
  }

  get broken(): string | undefined {
    return this.brokenBecause;
  }

  knownManagers(): string[] {
    return this.worker.knownManagers() ?? this.swarm.state?.managers ?? [];
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    return this.busy.run(fn);
  }

  /**
   * On daemon start: carry on in the swarm this node was part of. A swarm state that cannot be used
   * (unreadable, certificates missing, Raft log corrupt) does not stop the daemon: it reports the
   * problem in `info` and accepts `leave --force`, so the node can be reset without hand-editing files.
   */
  async resume(): Promise<void> {
    try {
      const state = this.swarm.load();
      if (!state) return;
      if (state.role === 'manager') await this.roles.start('restart');
      this.startWorker();
      this.log.info({ nodeId: state.nodeId, role: state.role }, 'rejoined the swarm from saved state');
      if (state.role === 'manager') void this.roles.ensureRaftMembership();
    } catch (err) {
      this.brokenBecause = errorMessage(err);
      this.worker.stopSession();
      await this.roles.stop().catch(() => {});
      this.swarm.drop();
      this.log.error({ err: this.brokenBecause }, "cannot resume this node's swarm membership");
    }
  }

  init(req: InitRequest): Promise<InitResult> {
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
      this.swarm.adopt(state, swarm.certs);
      try {
        const manager = await this.roles.start('bootstrap');
        await manager.initializeCluster(swarm.cluster, swarm.self);
        const tokens = swarm.cluster.joinTokens;
        this.swarm.persist();
        this.startWorker();
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
  private async recoverQuorum(): Promise<InitResult> {
    const s = this.swarm.state;
    if (!s || s.role !== 'manager') {
      throw new UserError(
        '--force-new-cluster recovers a swarm from one of its managers: this node is not one',
      );
    }
    this.worker.stopSession();
    await this.roles.stop();
    const forced = await forceNewCluster(raftDataDir(this.opts.dataRoot), s.raftId, s.advertiseAddr);
    this.log.warn(
      { index: forced.index, dropped: forced.dropped },
      'forced a new single-manager cluster from local state',
    );
    s.managers = [s.advertiseAddr];
    this.swarm.persist();
    const manager = await this.roles.start('restart');
    const deadline = Date.now() + 15_000;
    while (!manager.isLeader()) {
      if (Date.now() > deadline) throw new UserError('the forced cluster elected no leader');
      await new Promise((r) => setTimeout(r, 20));
    }
    this.startWorker();
    const tokens = manager.store.view((tx) => tx.get('cluster', s.clusterId))!.joinTokens;
    return {
      nodeId: s.nodeId,
      workerToken: tokens.worker,
      managerToken: tokens.manager,
      managerAddr: s.advertiseAddr,
    };
  }

  private assertOutsideSwarm(): void {
    if (this.brokenBecause) {
      throw new UserError(
        `this node's swarm state is broken (${this.brokenBecause}): use 'swarmlite leave --force' first`,
      );
    }
    if (this.swarm.state) throw new UserError(ALREADY_IN_SWARM);
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
        clusterId: clusterIdOfCA(issued.caCertPem),
        nodeId: issued.nodeId,
        role: issued.role,
        listenAddr: req.listenAddr,
        advertiseAddr: issued.role === 'manager' ? managerAddr : ip,
        raftId: issued.role === 'manager' ? newRaftId() : 0,
        managers: issued.managerAddrs.length ? issued.managerAddrs : [req.remoteAddr],
      };
      this.swarm.adopt(state, {
        caCertPem: issued.caCertPem,
        certPem: issued.certPem,
        keyPem: issued.keyPem,
      });
      try {
        // Saved before the leader adds a manager to Raft: a crash from here on restarts as this node
        // (and asks to be added again), never as a stranger that left a dead voter behind.
        this.swarm.persist();
        if (issued.role === 'manager') await this.roles.join();
        this.startWorker();
        this.log.info({ nodeId: issued.nodeId, role: issued.role }, 'joined the swarm');
        return { nodeId: issued.nodeId, role: issued.role };
      } catch (err) {
        if (issued.role === 'manager') await this.roles.leaveRaftQuietly();
        await this.reset();
        throw err;
      }
    });
  }

  leave(force: boolean): Promise<void> {
    return this.serially(async () => {
      if (this.brokenBecause) {
        if (!force)
          throw new UserError(
            `this node's swarm state is broken (${this.brokenBecause}): use 'swarmlite leave --force' to reset it`,
          );
        this.brokenBecause = undefined;
        await this.reset();
        return;
      }
      const s = this.swarm.state;
      if (!s) throw new UserError(NOT_IN_SWARM);
      const manager = this.roles.manager;
      if (s.role === 'manager' && !force) {
        const managers = manager ? manager.raft.status().members.filter((m) => !m.learner).length : 1;
        throw new UserError(
          `this node is a manager of the swarm (one of ${managers}); leaving removes it from the Raft membership` +
            (managers <= 2 ? ' and the remaining managers lose their quorum' : '') +
            `. Demote it first ('swarmlite node demote'), or use --force.`,
        );
      }
      if (s.role === 'manager' && manager) {
        const others = manager.raft.status().members.filter((m) => m.id !== s.raftId);
        if (others.length > 0) {
          await this.roles
            .callLeader((c) => c.leaveRaft({ nodeId: s.nodeId }))
            .catch((err) =>
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
    await this.worker.leave();
    await this.roles.stop().catch(() => {});
    this.swarm.forget();
  }

  /** The daemon stops; the membership stays on disk for the next start. */
  async stop(): Promise<void> {
    this.renewer.stop();
    await this.worker.stop();
    await this.roles.stop();
  }

  private startWorker(): void {
    this.renewer.start();
    this.worker.start(this.swarm.state!, () => this.swarm.credentials(), {
      message: (msg) => {
        this.swarm.noteManagers(msg.managers.map((m) => m.addr));
        if (msg.node) this.roles.observe(msg.node);
      },
      removed: () => {
        this.log.error('this node was removed from the swarm');
        void this.serially(() => this.reset());
      },
    });
  }
}
