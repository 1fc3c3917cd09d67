// `service ps` and `inspect` of a task: reads only (tasks are written by the orchestrators, the
// scheduler, the allocator and the workers).
import { type ReadTx } from '../store/index.js';
import { TASK_STATES, type SwarmObjects, type Task } from '../../api/objects/index.js';
import { taskToWire } from './objects-to-wire.js';
import { findNode, findTask } from './lookup.js';
import { findService } from './lookup-services.js';
import type { ControlUnaryHandlers, ServiceControlContext } from './service-context.js';
import { invalid } from './wire-values.js';

/** `service ps` order: by service, then slot (or node), newest first within a slot. */
function bySlotNewestFirst(a: Task, b: Task): number {
  return (
    a.serviceName.localeCompare(b.serviceName) ||
    a.slot - b.slot ||
    (a.slot === 0 ? a.nodeId.localeCompare(b.nodeId) : 0) ||
    b.meta.createdAt.localeCompare(a.meta.createdAt) ||
    a.id.localeCompare(b.id)
  );
}

function selectTasks(tx: ReadTx<SwarmObjects>, service: string, node: string, states: string[]): Task[] {
  // Start from the narrowest index the filters allow, then apply the rest.
  const serviceId = service ? findService(tx, service).id : undefined;
  const nodeId = node ? findNode(tx, node).id : undefined;
  let tasks: Task[];
  if (serviceId) tasks = tx.find('task', 'service', serviceId);
  else if (nodeId) tasks = tx.find('task', 'node', nodeId);
  else tasks = tx.list('task');
  return tasks.filter(
    (t) =>
      (!serviceId || t.serviceId === serviceId) &&
      (!nodeId || t.nodeId === nodeId) &&
      (states.length === 0 || states.includes(t.desiredState)),
  );
}

export function taskHandlers(ctx: ServiceControlContext) {
  return {
    async ListTasks(req) {
      const { service, node } = req;
      const states = req.desiredStates.filter((s) => s !== '');
      for (const s of states) {
        if (!(TASK_STATES as readonly string[]).includes(s)) {
          throw invalid(`unknown desired state "${s}": use one of ${TASK_STATES.join(', ')}`);
        }
      }
      const tasks = ctx.store.view((tx) => selectTasks(tx, service, node, states));
      return { tasks: tasks.sort(bySlotNewestFirst).map(taskToWire) };
    },

    async GetTask(req) {
      return { task: taskToWire(ctx.store.view((tx) => findTask(tx, req.ref))) };
    },
  } satisfies Partial<ControlUnaryHandlers>;
}
