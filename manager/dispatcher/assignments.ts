// What each node is told to run. A task belongs to a node once the scheduler assigned it there (state
// `assigned` or later) and until it is deleted or moved. Each node's stream gets the full set first,
// then only what changed for it. A change the node itself reported (its status) is not echoed back:
// only what the worker acts on (desired state, spec, networks, endpoint) makes a task worth resending.
import { taskStateRank, type Task } from '../../api/objects/index.js';

// A network attachment (a standalone container's address) is on its node but is nothing to run.
const assignedTo = (t: Task, nodeId: string): boolean =>
  t.nodeId === nodeId && !t.attachment && taskStateRank(t.status.state) >= taskStateRank('assigned');

/** The fields a worker acts on; a task is resent only when this changes. */
const actionableKey = (t: Task): string =>
  JSON.stringify([t.desiredState, t.specVersion, t.spec, t.networks, t.endpoint]);

export interface AssignmentChanges {
  full: boolean;
  tasks: Task[];
  removed: string[];
}

/** One node's view of its assignments: what was sent, and the changes still to send. */
export class NodeAssignments {
  private readonly sent = new Map<string, string>();
  private readonly changed = new Map<string, Task>();
  private readonly removed = new Set<string>();
  private fullPending = true;

  constructor(
    readonly nodeId: string,
    initial: readonly Task[],
  ) {
    for (const t of initial) if (assignedTo(t, nodeId)) this.changed.set(t.id, t);
  }

  /** Notes a store change of a task; returns whether there is something to send. */
  note(task: Task, deleted: boolean): boolean {
    const mine = !deleted && assignedTo(task, this.nodeId);
    if (!mine) {
      this.changed.delete(task.id);
      if (!this.sent.has(task.id)) return false;
      this.sent.delete(task.id);
      this.removed.add(task.id);
      return true;
    }
    this.removed.delete(task.id);
    if (this.sent.get(task.id) === actionableKey(task)) {
      this.changed.delete(task.id);
      return false;
    }
    this.changed.set(task.id, task);
    return true;
  }

  /** Takes the pending changes (the full set on the first call) and records them as sent. */
  take(): AssignmentChanges | undefined {
    const full = this.fullPending;
    if (!full && this.changed.size === 0 && this.removed.size === 0) return undefined;
    const tasks = [...this.changed.values()];
    for (const t of tasks) this.sent.set(t.id, actionableKey(t));
    const removed = [...this.removed];
    this.changed.clear();
    this.removed.clear();
    this.fullPending = false;
    return { full, tasks, removed };
  }
}
