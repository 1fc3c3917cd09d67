// The benchmark's agents: a real Agent with the simulated executor per node, in the leader's process,
// fed the way the Dispatcher feeds assignment streams: ONE store watch routes each task event to the
// node(s) it concerns (Dispatcher.routeTask), and each node's changes since its last message go out once
// per turn of the event loop (Dispatcher.queueFlush). Status comes back through the dispatcher's
// StatusBatcher. The benchmark measures the leader's controllers, not 1,000 TLS sessions in one process:
// cluster.ts runs the real Dispatcher and sessions over gRPC for a few nodes.
import { EventEmitter } from 'node:events';
import type { Logger } from '../../lib/log.js';
import { NodeAssignments, StatusBatcher, type Store } from '../../manager/testing.js';
import type { SwarmObjects, Task } from '../../api/objects/index.js';
import { Agent } from '../../worker/agent/agent.js';
import type { AssignmentsMessage, TaskStatusUpdate } from '../../worker/agent/session.js';
import { SimulatedExecutor } from '../../worker/agent/simulated-executor.js';

/** One node's assignment stream and status channel, as the agent sees its session. */
class RoutedSession extends EventEmitter {
  private flushQueued = false;

  constructor(
    readonly assignments: NodeAssignments,
    private readonly batcher: StatusBatcher,
  ) {
    super();
  }

  queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      const changes = this.assignments.take();
      if (changes) this.emit('assignments', { ...changes, networks: [] } satisfies AssignmentsMessage);
    });
  }

  reportStatus(updates: TaskStatusUpdate[]): Promise<void> {
    const nodeId = this.assignments.nodeId;
    return this.batcher.submit(updates.map((u) => ({ nodeId, taskId: u.taskId, status: u.status })));
  }
}

/** Starts an agent per node in the store; returns a function that stops routing. */
export function attachAgents(store: Store<SwarmObjects>, log: Logger): { agents: number; stop(): void } {
  const batcher = new StatusBatcher(store);
  const sessions = new Map<string, RoutedSession>();
  const { value: nodeIds, subscription } = store.viewAndWatch(
    (tx) => tx.list('node').map((n) => n.id),
    { kinds: ['task'] },
    { queueLimit: 1_000_000 },
  );
  for (const id of nodeIds) {
    const tasks = store.view((tx) => tx.find('task', 'node', id));
    const session = new RoutedSession(new NodeAssignments(id, tasks), batcher);
    const agent = new Agent({ executor: new SimulatedExecutor(), node: { id, hostname: id }, log });
    agent.attach(session);
    session.emit('connected');
    session.queueFlush();
    sessions.set(id, session);
  }
  void (async () => {
    for await (const e of subscription) {
      if (e.type !== 'object') continue;
      const task = e.object as Task;
      const old = e.oldObject as Task | undefined;
      for (const nodeId of new Set([task.nodeId, old?.nodeId ?? ''])) {
        const s = nodeId ? sessions.get(nodeId) : undefined;
        if (s?.assignments.note(task, e.op === 'delete')) s.queueFlush();
      }
    }
  })().catch((err: unknown) => log.error({ err }, 'bench agents: task watch ended'));
  return { agents: sessions.size, stop: () => subscription.close() };
}
