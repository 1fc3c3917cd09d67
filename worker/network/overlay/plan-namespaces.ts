// The endpoint namespaces the driver makes itself (LocalTask.ownNamespace): the node's ingress sandbox,
// which no runtime makes. Each is made, with lo up and IPv4 forwarding on (it routes between its legs),
// before the steps that put legs into it, and removed after the steps that take them out, once no
// desired endpoint names it. The driver runs these steps in a queue of their own.
import { inSandbox, ip, ipDel, NETNS_NAMES } from './commands.js';
import type { PlanContext } from './desired.js';
import { isOwnNamespaceName } from './names.js';
import type { Command, ObservedOwnNamespace, OverlayDesiredState, OwnNamespacePlan, Step } from './types.js';

export const FORWARDING_SYSCTL = 'net.ipv4.ip_forward';

/** The namespaces the desired state asks for, sorted; a name this prefix does not own is refused. */
export function ownNamespacesWanted(prefix: string, desired: OverlayDesiredState): string[] {
  const names = new Set<string>();
  for (const t of desired.tasks) {
    if (t.ownNamespace === undefined) continue;
    if (!isOwnNamespaceName(prefix, t.ownNamespace))
      throw new RangeError(
        `task ${t.taskId}: '${t.ownNamespace}' is not an endpoint namespace of '${prefix}'`,
      );
    if (t.netnsPath !== `/run/netns/${t.ownNamespace}`)
      throw new RangeError(`task ${t.taskId}: namespace ${t.ownNamespace} is not at ${t.netnsPath}`);
    names.add(t.ownNamespace);
  }
  return [...names].sort();
}

export function planOwnNamespaces(
  ctx: PlanContext,
  desired: OverlayDesiredState,
  observed: readonly ObservedOwnNamespace[],
): OwnNamespacePlan {
  const wanted = ownNamespacesWanted(ctx.prefix, desired);
  const make: Step[] = [];
  for (const name of wanted) {
    const have = observed.find((o) => o.name === name);
    const ns = inSandbox(name);
    const forward: Command = { tool: 'sysctl', where: ns, args: ['-q', '-w', `${FORWARDING_SYSCTL}=1`] };
    const commands = [
      ...(have ? [] : [ip(NETNS_NAMES, 'netns', 'add', name)]),
      ...(have?.loUp ? [] : [ip(ns, 'link', 'set', 'lo', 'up')]),
      ...(have?.forwarding ? [] : [forward]),
    ];
    if (commands.length > 0)
      make.push({ why: have ? `fix ${name}` : `create ${name}, which routes between its legs`, commands });
  }
  // A restarted daemon's endpoints attach again one by one: until the adoption grace ends, a namespace
  // no endpoint names yet may be about to be named again (types.ts, adopting), so it stays.
  const remove: Step[] = desired.adopting
    ? []
    : observed
        .filter((o) => !wanted.includes(o.name))
        .map((o) => ({
          why: `no endpoint uses ${o.name} any more: remove it`,
          commands: [ipDel(NETNS_NAMES, 'netns', 'del', o.name)],
        }));
  return { make, remove };
}
