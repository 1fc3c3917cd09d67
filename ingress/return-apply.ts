// The shell of the return path (return-path.ts): puts `<prefix>_return` and the policy routing into
// one task namespace, idempotently. It observes the namespace's rules and routes, applies only the
// difference, and never names a rule or route that is not its own (priority 32000, fwmark = table
// in 65536-131071), so it is safe to call on every endpoint change and after a daemon restart.
import { inNamespace, type MeshApplier, type Namespace } from './apply.js';
import { tableName } from './names.js';
import {
  desiredReturnRoutes,
  parseRoutes,
  parseRules,
  planReturnRouting,
  renderReturnTable,
  type ObservedRouting,
  type ReturnSandbox,
} from './return-path.js';

/** The rules and the routes of our tables in `ns`, as `ip -j` reports them. */
export async function observeReturnRouting(ns: Namespace): Promise<ObservedRouting> {
  const [rules, routes] = await Promise.all([
    inNamespace(ns, 'ip', ['-4', '-j', 'rule', 'show']),
    inNamespace(ns, 'ip', ['-4', '-j', 'route', 'show', 'table', 'all']),
  ]);
  return { rules: parseRules(rules), routes: parseRoutes(routes) };
}

/** One `ip -4 -batch` run: stops at the first failure; the next sync re-observes and retries. */
async function runPlan(ns: Namespace, plan: string[][]): Promise<void> {
  if (plan.length === 0) return;
  await inNamespace(ns, 'ip', ['-4', '-batch', '-'], plan.map((c) => `${c.join(' ')}\n`).join(''));
}

export interface ReturnPathInput {
  prefix: string;
  /** Every node's ingress sandbox, by its ingress address (this node's included). */
  sandboxes: readonly ReturnSandbox[];
  /** The task's interface on the ingress network (the sandboxes' neighbours). */
  device: string;
}

/** Makes the rules and routes in `ns` match the sandboxes; returns the `ip` commands it ran. */
async function syncReturnRouting(ns: Namespace, input: Omit<ReturnPathInput, 'prefix'>): Promise<string[][]> {
  const plan = planReturnRouting(desiredReturnRoutes(input), await observeReturnRouting(ns));
  await runPlan(ns, plan);
  return plan;
}

/**
 * The whole return path of one task: routes first, then the table that marks connections, so that
 * no connection is marked before its mark has a route. The device's reverse-path filter is made
 * loose (2): a preserved connection arrives on the ingress leg from a client address the main table
 * routes via the gateway-bridge leg, which strict mode (1) would drop (the kernel uses the higher
 * of `all` and the device's value, so setting the device alone suffices).
 */
export async function applyReturnPath(
  applier: MeshApplier,
  ns: Namespace,
  input: ReturnPathInput,
): Promise<string[][]> {
  // Both validate (sandbox addresses, mark collisions, the device name) before anything changes.
  const table = renderReturnTable(input);
  desiredReturnRoutes(input);
  // sysctl keys separate with '.', so a '.' in an interface name (eth0.100) is written '/'.
  const key = `net.ipv4.conf.${input.device.replaceAll('.', '/')}.rp_filter`;
  await inNamespace(ns, 'sysctl', ['-q', '-w', `${key}=2`]);
  const ran = await syncReturnRouting(ns, input);
  await applier.apply(table, ns);
  return ran;
}

/** Takes the return path out of `ns`: the table first (nothing is marked any more), then routing. */
export async function removeReturnPath(applier: MeshApplier, ns: Namespace): Promise<string[][]> {
  await applier.remove(tableName(applier.prefix, 'return'), ns);
  const plan = planReturnRouting([], await observeReturnRouting(ns));
  await runPlan(ns, plan);
  return plan;
}
