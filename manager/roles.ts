// The leader's role reconciler: makes Raft membership and the store agree with what users asked for.
// What to do is decided by planRoles (roles-plan.ts); this shell reads the store and Raft's status on
// a timer while leading, and carries the planned actions out in order. Promotion's first half happens
// on the promoted node: it renews its certificate as a manager and asks to join Raft (JoinRaft),
// which makes it a learner here.
import type { Logger } from '../lib/log.js';
import type { RaftNode } from './raft/node/raft-node.js';
import type { Store } from './store/index.js';
import type { Node, SwarmObjects } from '../api/objects/index.js';
import { planRoles, type RoleAction } from './roles-plan.js';

export class RoleReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private missingSince = new Map<string, number>();

  constructor(
    private readonly store: Store<SwarmObjects>,
    private readonly raft: RaftNode,
    private readonly log: Logger,
    private readonly intervalMs = 250,
    private readonly now: () => number = Date.now,
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
    const plan = planRoles({
      nodes: this.store.view((tx) => tx.list('node')),
      raft: { self: this.raft.raftId, leader: status.leader, commit: status.commit, members: status.members },
      now: this.now(),
      missingSince: this.missingSince,
    });
    this.missingSince = plan.missingSince;
    const flags = plan.actions.filter((a) => a.type === 'set-flags');
    for (const action of plan.actions) if (action.type !== 'set-flags') await this.carryOut(action);
    if (flags.length > 0) await this.writeFlags(flags);
  }

  private async carryOut(action: Exclude<RoleAction, { type: 'set-flags' }>): Promise<void> {
    switch (action.type) {
      case 'transfer-leadership':
        this.log.info({ to: action.to }, 'handing leadership over before this manager is demoted');
        await this.raft.transferLeadership(action.to);
        return;
      case 'remove-member':
        await this.raft.removeMember(action.raftId);
        return;
      case 'demote':
        return this.setNode(action.nodeId, (n) => {
          const { managerStatus: _gone, ...rest } = n;
          return { ...rest, role: 'worker' };
        });
      case 'drop-manager':
        // Force-new-cluster dropped its member, or it was removed behind our back. Its daemon sees
        // the new role in its session and steps down.
        this.log.warn(
          { node: action.nodeId, raftId: action.raftId },
          'manager has no Raft membership: making it a worker',
        );
        return this.setNode(action.nodeId, (n) => {
          const { managerStatus: _gone, ...rest } = n;
          return { ...rest, role: 'worker', spec: { ...n.spec, role: 'worker' } };
        });
      case 'add-voter':
        this.log.info(
          { node: action.nodeId, raftId: action.raftId },
          'learner caught up: promoting to voter',
        );
        await this.raft.addVoter(action.raftId, action.addr);
        return;
      case 'mark-manager':
        return this.setNode(action.nodeId, (n) => ({ ...n, role: 'manager' }));
    }
  }

  /** All flag changes in one store batch; a node whose manager status changed meanwhile is skipped. */
  private async writeFlags(flags: Extract<RoleAction, { type: 'set-flags' }>[]): Promise<void> {
    await this.store.update((tx) => {
      for (const f of flags) {
        const current = tx.get('node', f.nodeId);
        if (current?.managerStatus?.raftId !== f.raftId) continue;
        tx.update('node', {
          ...current,
          managerStatus: { ...current.managerStatus, leader: f.leader, reachability: f.reachability },
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
