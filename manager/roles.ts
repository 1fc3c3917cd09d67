// The leader's role reconciler: makes Raft membership and the store agree with what users asked for.
//   - a learner that caught up becomes a voter, and its node's role becomes manager;
//   - a node whose desired role went back to worker leaves the Raft membership (the leader hands its
//     own leadership over first) and becomes a worker;
//   - each manager's reachability and leader flag follow what Raft observes.
// Promotion's first half happens on the promoted node: it renews its certificate as a manager and
// asks to join Raft (JoinRaft), which makes it a learner here.
import type { Logger } from '../lib/log.js';
import type { RaftNode } from './raft/node/raft-node.js';
import type { Store } from './store/index.js';
import type { Node, SwarmObjects } from '../api/objects/index.js';

/** A learner within this many entries of the leader's commit index is caught up. */
const CAUGHT_UP_SLACK = 10;

/** How long a manager's Raft member must be missing before the node is made a worker. */
const MEMBER_GRACE_MS = 5_000;

export class RoleReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly missingSince = new Map<string, number>();

  constructor(
    private readonly store: Store<SwarmObjects>,
    private readonly raft: RaftNode,
    private readonly log: Logger,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.running || !this.raft.isLeader) return;
    this.running = true;
    try {
      await this.reconcile();
    } catch (err) {
      this.log.debug({ err }, 'role reconciliation will retry');
    } finally {
      this.running = false;
    }
  }

  async reconcile(): Promise<void> {
    const status = this.raft.status();
    const members = new Map(status.members.map((m) => [m.id, m]));
    const nodes = this.store.view((tx) => tx.list('node'));
    for (const key of this.missingSince.keys()) {
      if (members.has(Number(key.split('/')[1]))) this.missingSince.delete(key);
    }
    for (const node of nodes) {
      const ms = node.managerStatus;
      if (!ms) continue;
      const member = members.get(ms.raftId);
      if (node.spec.role === 'worker' || node.removed) {
        await this.demote(node);
        continue;
      }
      if (!member && node.role === 'manager' && this.missingLongEnough(node.id, ms.raftId)) {
        // Its Raft member is gone (force-new-cluster dropped it, or it was removed behind our back):
        // it is no manager any more. Its daemon sees the new role in its session and steps down.
        this.log.warn(
          { node: node.id, raftId: ms.raftId },
          'manager has no Raft membership: making it a worker',
        );
        await this.setNode(node.id, (n) => {
          const { managerStatus: _gone, ...rest } = n;
          return { ...rest, role: 'worker', spec: { ...n.spec, role: 'worker' } } as Node;
        });
        continue;
      }
      if (
        member?.learner &&
        (member.match ?? 0) > 0 &&
        (member.match ?? 0) + CAUGHT_UP_SLACK >= status.commit
      ) {
        this.log.info({ node: node.id, raftId: ms.raftId }, 'learner caught up: promoting to voter');
        await this.raft.addVoter(ms.raftId, ms.addr);
        continue;
      }
      if (member && !member.learner && node.role !== 'manager') {
        await this.setNode(node.id, (n) => ({ ...n, role: 'manager' }));
      }
    }
    await this.refreshFlags();
  }

  /**
   * A manager's member may be missing for a moment while it rejoins under a new Raft id (JoinRaft
   * retires the old member before adding the new one): only a member missing for MEMBER_GRACE_MS
   * means the node really lost its membership.
   */
  private missingLongEnough(nodeId: string, raftId: number): boolean {
    const key = `${nodeId}/${raftId}`;
    const since = this.missingSince.get(key) ?? Date.now();
    this.missingSince.set(key, since);
    return Date.now() - since >= MEMBER_GRACE_MS;
  }

  private async demote(node: Node): Promise<void> {
    const raftId = node.managerStatus!.raftId;
    if (raftId === this.raft.raftId) {
      const successor = this.raft.status().members.find((m) => m.id !== raftId && !m.learner && m.reachable);
      if (!successor) return; // nobody to hand over to; quorum checks should have prevented this
      this.log.info({ to: successor.id }, 'handing leadership over before this manager is demoted');
      await this.raft.transferLeadership(successor.id);
      return;
    }
    if (this.raft.status().members.some((m) => m.id === raftId)) await this.raft.removeMember(raftId);
    await this.setNode(node.id, (n) => {
      const { managerStatus: _gone, ...rest } = n;
      return { ...rest, role: 'worker' } as Node;
    });
  }

  /** Reachability and the leader flag, written only when they change (each write is a Raft entry). */
  private async refreshFlags(): Promise<void> {
    const status = this.raft.status();
    const active = new Map(status.members.map((m) => [m.id, m.reachable ?? false]));
    const stale = this.store.view((tx) =>
      tx.list('node').filter((n) => {
        if (!n.managerStatus) return false;
        const id = n.managerStatus.raftId;
        const leader = id === status.leader;
        const reachable = id === this.raft.raftId || (active.get(id) ?? false) ? 'reachable' : 'unreachable';
        return n.managerStatus.leader !== leader || n.managerStatus.reachability !== reachable;
      }),
    );
    if (stale.length === 0) return;
    await this.store.update((tx) => {
      for (const n of stale) {
        const current = tx.get('node', n.id);
        if (!current?.managerStatus) continue;
        const id = current.managerStatus.raftId;
        tx.update('node', {
          ...current,
          managerStatus: {
            ...current.managerStatus,
            leader: id === status.leader,
            reachability: id === this.raft.raftId || (active.get(id) ?? false) ? 'reachable' : 'unreachable',
          },
        });
      }
    });
  }

  private async setNode(id: string, change: (n: Node) => Node): Promise<void> {
    await this.store.update((tx) => {
      const current = tx.get('node', id);
      if (current) tx.update('node', change(current));
    });
  }
}
