// The overlay planner: a pure function from (desired, observed) to the steps that make the kernel match.
// It reads what is there and changes only the difference, so running it on its own result gives no
// steps, a restart converges instead of duplicating, and entries of peers that left are removed.
//
// The work is split by the queue that runs it (driver.ts): one per network sandbox, so that kernel
// changes for one network never interleave, one for the node-level gateway bridge, and one for the
// endpoint namespaces the driver makes (before the others, and after them for removals).
import { sandboxesWanted, type PlanContext } from './desired.js';
import { planGateway } from './plan-gateway.js';
import { planOwnNamespaces } from './plan-namespaces.js';
import { planSandbox } from './plan-sandbox.js';
import type { OverlayDesiredState, OverlayObservedState, Plan, Step } from './types.js';

export { planGateway } from './plan-gateway.js';
export { planOwnNamespaces } from './plan-namespaces.js';
export { planSandbox } from './plan-sandbox.js';
export type { PlanContext } from './desired.js';

/** Every step of one sync, for tests and `--dry-run`-style display; the driver plans per queue. */
export function planAll(
  ctx: PlanContext,
  desired: OverlayDesiredState,
  observed: OverlayObservedState,
): Plan {
  const names = new Set([
    ...sandboxesWanted(ctx.prefix, desired).keys(),
    ...observed.sandboxes.map((s) => s.netns),
  ]);
  const networks = new Map<string, Step[]>();
  for (const name of [...names].sort()) {
    const steps = planSandbox(
      ctx,
      desired,
      name,
      observed.sandboxes.find((s) => s.netns === name),
      observed.underlayMtu,
    );
    if (steps.length > 0) networks.set(name, steps);
  }
  return {
    namespaces: planOwnNamespaces(ctx, desired, observed.ownNamespaces),
    networks,
    gateway: planGateway(ctx, desired, observed.gateway, observed.strayTempVxlans),
  };
}
