// One orchestration pass over one service, as the controller runs it on every relevant store event
// (and at the plan's wakeAt). The parts run in a fixed order and the first that wants to write wins:
// reconcile (slots, restarts, lost nodes) before the rolling update, the history reaper last. Each
// later part therefore sees a service whose slots are already settled, and no two parts ever decide
// about the same task in one batch; the store event of the committed batch triggers the next pass.
import type { Node, Service, Task } from '../../api/objects/index.js';
import { reconcileGlobal, type PlacementPredicate } from './global.js';
import { planWrites, wakeAtEarliest, type Plan } from './plan.js';
import { reapHistory } from './reaper.js';
import { reconcileReplicated } from './replicated.js';
import type { PlanContext } from './restart.js';
import { isReplicated } from './tasks.js';
import { planUpdate } from './update.js';

export function planService(
  service: Service,
  tasks: readonly Task[],
  nodes: ReadonlyMap<string, Node>,
  ctx: PlanContext,
  placementAllows?: PlacementPredicate,
): Plan {
  const own = tasks.filter((t) => t.serviceId === service.id);
  const reconciled = isReplicated(service)
    ? reconcileReplicated(service, own, nodes, ctx)
    : reconcileGlobal(service, own, nodes, ctx, placementAllows);
  if (planWrites(reconciled)) return reconciled;
  const update = planUpdate(service, own, nodes, ctx);
  const wakeAt = wakeAtEarliest(reconciled.wakeAt, update.wakeAt);
  if (planWrites(update)) return { ...update, wakeAt };
  const reaped = reapHistory(own);
  return wakeAt === undefined ? reaped : { ...reaped, wakeAt };
}
