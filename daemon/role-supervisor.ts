// The manager role of this daemon: starts and stops the Manager, carries a promotion out (a fresh Raft
// member that joins as a learner and waits to be made a voter) and rolls it back when it fails, and
// steps down on demotion. Which switch a session message asks for is roleSwitch(), a pure function.
import { randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { UserError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { Manager, raftDataDir, type ImageResolver } from '../manager/index.js';
import type { DaemonOptions } from './options.js';
import { splitHostPort } from './swarm-addr.js';
import type { SwarmCredentials } from './swarm-credentials.js';
import type { SwarmRole } from './swarm-state.js';
import type { ControlClient } from '../api/rpc.js';
import type { UnaryCalls } from '../api/calls.js';

/** Raft member ids: random, so a re-joining manager never reuses a retired one. */
export const newRaftId = () => randomInt(1, 2 ** 47);

const ROLE_RETRY_MS = 5_000;
const VOTER_TIMEOUT_MS = 30_000;

/** What the dispatcher says of this node, as far as roles go. */
export interface NodeRoleView {
  role: string;
  spec: { role: string };
}

/**
 * The switch a session message asks of a node in role `current`: a worker whose desired role is
 * manager is promoted at once; a manager steps down only once the leader has taken it out of Raft
 * (observed role worker) and the user still wants a worker.
 */
export function roleSwitch(current: SwarmRole, node: NodeRoleView): SwarmRole | undefined {
  if (current === 'worker' && node.spec.role === 'manager') return 'manager';
  if (current === 'manager' && node.role === 'worker' && node.spec.role === 'worker') return 'worker';
  return undefined;
}

export interface RoleSupervisorDeps {
  opts: DaemonOptions;
  log: Logger;
  swarm: SwarmCredentials;
  /** The managers the dispatcher session knows, or the saved list. */
  knownManagers(): string[];
  /** Runs `fn` after every membership operation already queued (one at a time). */
  serially<T>(fn: () => Promise<T>): Promise<T>;
  /** Pins service images to digests (service-images.ts); absent: images stay as sent. */
  resolveImage?: ImageResolver;
}

export class RoleSupervisor {
  private running: Manager | undefined;
  /** The dispatcher's latest word about this node (a failed switch looks at it again). */
  private lastView: NodeRoleView | undefined;

  constructor(private readonly deps: RoleSupervisorDeps) {}

  get manager(): Manager | undefined {
    return this.running;
  }

  async start(mode: 'bootstrap' | 'join' | 'restart'): Promise<Manager> {
    const s = this.deps.swarm.state!;
    this.running = await Manager.start({
      dataRoot: this.deps.opts.dataRoot,
      nodeId: s.nodeId,
      clusterId: s.clusterId,
      raftId: s.raftId,
      listenAddr: s.listenAddr,
      advertiseAddr: s.advertiseAddr,
      tls: this.deps.swarm.tls,
      mode,
      log: this.deps.log,
      ...(this.deps.resolveImage ? { resolveImage: this.deps.resolveImage } : {}),
    });
    return this.running;
  }

  async stop(): Promise<void> {
    const m = this.running;
    this.running = undefined;
    await m?.stop();
  }

  /** A control call at the leader: the leader this manager knows first, then the known managers. */
  callLeader<T>(call: (control: UnaryCalls<ControlClient>) => Promise<T>): Promise<T> {
    const leader = this.running?.leaderAddr();
    return this.deps.swarm.callLeader(call, [...(leader ? [leader] : []), ...this.deps.knownManagers()]);
  }

  /** The TLS provider serves a renewed certificate; Raft's client channels switch to it too. */
  certificateRenewed(): void {
    this.running?.certificateRenewed();
  }

  /** Starts an empty Raft member and asks the leader to add it (learner, then voter once caught up). */
  async join(): Promise<void> {
    const s = this.deps.swarm.state!;
    const m = await this.start('join');
    await this.callLeader((c) => c.joinRaft({ nodeId: s.nodeId, raftId: s.raftId, addr: s.advertiseAddr }));
    const deadline = Date.now() + VOTER_TIMEOUT_MS;
    for (;;) {
      const st = m.raft.status();
      const me = st.members.find((x) => x.id === s.raftId);
      if (me && !me.learner && st.leader) break;
      if (Date.now() > deadline)
        throw new UserError('timed out waiting to become a Raft voter (is the leader reachable?)');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Best effort: take this node out of the Raft membership after a failed join or promotion. */
  async leaveRaftQuietly(): Promise<void> {
    const s = this.deps.swarm.state;
    if (!s) return;
    await this.callLeader((c) => c.leaveRaft({ nodeId: s.nodeId })).catch((err) =>
      this.deps.log.warn({ err: errorMessage(err) }, 'could not take this node out of the Raft membership'),
    );
  }

  /**
   * A manager that crashed between saving its state and the leader adding it to Raft restarts as an
   * empty member nobody talks to: ask the leader again (JoinRaft is idempotent for the same id).
   */
  async ensureRaftMembership(): Promise<void> {
    const s = this.deps.swarm.state;
    const m = this.running;
    if (!s || !m) return;
    await new Promise((r) => setTimeout(r, 3_000).unref());
    if (this.running !== m || m.raft.status().members.some((x) => x.id === s.raftId)) return;
    this.deps.log.warn('this manager is in no Raft membership: asking the leader to add it');
    await this.callLeader((c) =>
      c.joinRaft({ nodeId: s.nodeId, raftId: s.raftId, addr: s.advertiseAddr }),
    ).catch((err) => this.deps.log.error({ err: errorMessage(err) }, 'could not rejoin the Raft membership'));
  }

  /** The dispatcher's view of this node arrived: switch roles when it asks for it. */
  observe(node: NodeRoleView): void {
    this.lastView = node;
    const s = this.deps.swarm.state;
    if (!s) return;
    const role = roleSwitch(s.role, node);
    if (!role) return;
    void this.deps
      .serially(() => this.switchRole(role))
      .catch((err) => {
        this.deps.log.warn({ err: errorMessage(err), role }, 'role switch failed; retrying');
        setTimeout(() => this.lastView && this.observe(this.lastView), ROLE_RETRY_MS).unref();
      });
  }

  /** Promotion or demotion reached this node: renew the certificate for the new role and act on it. */
  private async switchRole(role: SwarmRole): Promise<void> {
    const { swarm, log } = this.deps;
    const s = swarm.state;
    if (!s || s.role === role) return;
    log.info({ role }, 'switching role');
    const renewed = await swarm.renewAtLeader(this.deps.knownManagers());
    if (renewed.role !== role) return; // the store changed its mind meanwhile; the next message decides
    swarm.install(renewed);
    this.certificateRenewed();
    if (role === 'manager') {
      const before = { ...s };
      const { port } = splitHostPort(s.listenAddr);
      s.role = 'manager';
      s.raftId = newRaftId();
      s.advertiseAddr = s.advertiseAddr.includes(':') ? s.advertiseAddr : `${s.advertiseAddr}:${port}`;
      rmSync(raftDataDir(this.deps.opts.dataRoot), { recursive: true, force: true }); // a fresh member
      swarm.persist();
      try {
        await this.join();
      } catch (err) {
        // Back to a plain worker; the session's next look at this node tries the promotion again.
        await this.leaveRaftQuietly();
        await this.stop().catch(() => {});
        Object.assign(s, before);
        swarm.persist();
        throw err;
      }
    } else {
      await this.stop();
      s.role = 'worker';
      s.raftId = 0;
    }
    swarm.persist();
  }
}
