// What `service ls`, `service ps` and `service inspect --pretty` print: pure renderers over the wire
// objects, in Docker's shapes (columns, `*:5000->80/tcp`, `\_ web.1` history rows, "5 seconds ago").
import { renderTable } from '../lib/format.js';
import {
  isGlobal,
  replicasOf,
  shortId,
  type NodeName,
  type PortConfig,
  type ServiceListEntryView,
  type ServiceView,
  type TaskView,
  type UpdateConfig,
} from './objects.js';

const title = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

export const formatPort = (p: PortConfig) => `*:${p.publishedPort}->${p.targetPort}/${p.protocol}`;

/** Published ports as allocated (dynamic ones have their number there), else as asked. */
function servicePorts(s: ServiceView): PortConfig[] {
  return s.endpoint?.ports.length ? s.endpoint.ports : s.spec.endpoint.ports;
}

export function renderServiceTable(entries: ServiceListEntryView[], quiet: boolean): string {
  const sorted = [...entries].sort((a, b) => a.service.spec.name.localeCompare(b.service.spec.name));
  if (quiet) return sorted.map((e) => shortId(e.service.id)).join('\n');
  return renderTable(
    ['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'],
    sorted.map(({ service: s, running, desired }) => [
      shortId(s.id),
      s.spec.name,
      isGlobal(s.spec) ? 'global' : 'replicated',
      `${running}/${desired}`,
      s.spec.task.image,
      servicePorts(s)
        .filter((p) => p.publishMode === 'ingress')
        .map(formatPort)
        .join(', '),
    ]),
  );
}

/** Docker's units.HumanDuration, for "Running 5 seconds ago". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** `web.1` for a replicated task, `web.<node id>` for a global one, as Docker names them. */
export const taskName = (t: TaskView) => `${t.serviceName}.${t.slot === 0 ? t.nodeId : t.slot}`;

const MAX_ERROR_LENGTH = 30;

function taskError(err: string, noTrunc: boolean): string {
  if (!err) return '';
  const shown = !noTrunc && err.length > MAX_ERROR_LENGTH ? `${err.slice(0, MAX_ERROR_LENGTH - 1)}…` : err;
  return JSON.stringify(shown);
}

/**
 * Tasks grouped per slot (per node for global services), newest first; the newest of each group is
 * the task, the older ones its history (`\_ web.1`), as `docker service ps` lists them.
 */
export function orderTasks(tasks: TaskView[]): { task: TaskView; history: boolean }[] {
  const groups = new Map<string, TaskView[]>();
  for (const t of tasks) {
    const key = `${t.serviceName}\0${t.slot === 0 ? t.nodeId : t.slot}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const keys = [...groups.keys()].sort((a, b) => {
    const [sa, ka] = a.split('\0') as [string, string];
    const [sb, kb] = b.split('\0') as [string, string];
    return sa.localeCompare(sb) || Number(ka) - Number(kb) || ka.localeCompare(kb);
  });
  return keys.flatMap((k) =>
    groups
      .get(k)!
      .sort((a, b) => b.meta.createdAt.localeCompare(a.meta.createdAt) || b.id.localeCompare(a.id))
      .map((task, i) => ({ task, history: i > 0 })),
  );
}

export function renderTaskTable(
  tasks: TaskView[],
  nodes: NodeName[],
  now: number,
  opts: { noTrunc: boolean; quiet: boolean },
): string {
  const ordered = orderTasks(tasks);
  if (opts.quiet) return ordered.map(({ task }) => (opts.noTrunc ? task.id : shortId(task.id))).join('\n');
  const hostnames = new Map(nodes.map((n) => [n.id, n.description.hostname]));
  return renderTable(
    ['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'],
    ordered.map(({ task: t, history }) => [
      opts.noTrunc ? t.id : shortId(t.id),
      (history ? ' \\_ ' : '') + taskName(t),
      t.spec.image,
      t.nodeId ? (hostnames.get(t.nodeId) ?? t.nodeId) : '',
      title(t.desiredState),
      `${title(t.status.state)} ${humanDuration(now - Date.parse(t.status.timestamp))} ago`,
      taskError(t.status.err, opts.noTrunc),
      (t.endpoint?.ports ?? [])
        .filter((p) => p.publishMode === 'host')
        .map(formatPort)
        .join(', '),
    ]),
  );
}

/** Go's time.Duration printing for the round values flags produce: 5s, 1m30s, 500ms, 0s. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

const mib = (bytes: number) => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) [v, u] = [v / 1024, u + 1];
  return `${Number.isInteger(v) ? v : v.toFixed(2)}${units[u]}`;
};

function updateConfigLines(label: string, c: UpdateConfig): string[] {
  return [
    `${label}:`,
    ` Parallelism:\t${c.parallelism}`,
    ...(c.delayMs ? [` Delay:\t\t${formatDuration(c.delayMs)}`] : []),
    ` On failure:\t${c.failureAction}`,
    ` Monitoring Period: ${formatDuration(c.monitorMs)}`,
    ` Max failure ratio: ${c.maxFailureRatio}`,
    ` Update order:      ${c.order}`,
  ];
}

/** `service inspect --pretty`: Docker's text block. */
export function renderServicePretty(s: ServiceView, networkNames: Map<string, string> = new Map()): string {
  const t = s.spec.task;
  const lines = [`ID:\t\t${s.id}`, `Name:\t\t${s.spec.name}`];
  const labels = Object.entries(s.spec.labels);
  if (labels.length) lines.push('Labels:', ...labels.map(([k, v]) => ` ${k}=${v}`));
  if (isGlobal(s.spec)) lines.push('Service Mode:\tGlobal');
  else lines.push('Service Mode:\tReplicated', ` Replicas:\t${replicasOf(s.spec)}`);
  if (s.updateStatus) {
    lines.push('UpdateStatus:', ` State:\t\t${s.updateStatus.state}`);
    if (s.updateStatus.startedAt) lines.push(` Started:\t${s.updateStatus.startedAt}`);
    if (s.updateStatus.completedAt) lines.push(` Completed:\t${s.updateStatus.completedAt}`);
    lines.push(` Message:\t${s.updateStatus.message}`);
  }
  if (t.placement.constraints.length)
    lines.push('Placement:', ` Constraints:\t[${t.placement.constraints.join(' ')}]`);
  lines.push(...updateConfigLines('UpdateConfig', s.spec.update));
  lines.push(...updateConfigLines('RollbackConfig', s.spec.rollback));
  lines.push('ContainerSpec:', ` Image:\t\t${t.image}`);
  // Docker prints the args only; the entrypoint given with --entrypoint is shown too.
  if (t.command.length) lines.push(` Command:\t${t.command.join(' ')} `);
  if (t.args.length) lines.push(` Args:\t\t${t.args.join(' ')} `);
  if (t.env.length) lines.push(` Env:\t\t${t.env.join(' ')}`);
  if (t.workdir) lines.push(` Dir:\t\t${t.workdir}`);
  if (t.init !== undefined) lines.push(` Init:\t\t${t.init}`);
  if (t.user) lines.push(` User:\t\t${t.user}`);
  if (t.hostname) lines.push(` Hostname:\t${t.hostname}`);
  if (t.readOnly) lines.push(' ReadOnly:\ttrue');
  if (t.noNewPrivileges) lines.push(' NoNewPrivileges: true');
  if (t.seccomp) lines.push(` Seccomp:\t${t.seccomp}`);
  if (t.stopSignal) lines.push(` StopSignal:\t${t.stopSignal}`);
  lines.push(` StopGracePeriod: ${formatDuration(t.stopGracePeriodMs)}`);
  if (t.capAdd.length || t.capDrop.length) {
    lines.push('Capabilities:');
    if (t.capAdd.length) lines.push(` Add: ${t.capAdd.join(', ')}`);
    if (t.capDrop.length) lines.push(` Drop: ${t.capDrop.join(', ')}`);
  }
  if (t.mounts.length) lines.push('Mounts:');
  for (const m of t.mounts)
    lines.push(
      ` Target:\t${m.target}`,
      `  Source:\t${m.source}`,
      `  ReadOnly:\t${m.readonly}`,
      `  Type:\t\t${m.type}`,
    );
  const { limits, reservations } = t.resources;
  const resLines = (label: string, r: { nanoCpus: number; memoryBytes: number }) =>
    r.nanoCpus || r.memoryBytes
      ? [
          ` ${label}:`,
          ...(r.nanoCpus ? [`  CPU:\t\t${r.nanoCpus / 1e9}`] : []),
          ...(r.memoryBytes ? [`  Memory:\t${mib(r.memoryBytes)}`] : []),
        ]
      : [];
  const res = [...resLines('Reservations', reservations), ...resLines('Limits', limits)];
  if (res.length) lines.push('Resources:', ...res);
  if (t.networks.length)
    lines.push(`Networks:\t${t.networks.map((n) => networkNames.get(n.target) ?? n.target).join(' ')} `);
  lines.push(`Endpoint Mode:\t${s.spec.endpoint.mode}`);
  const ports = servicePorts(s);
  if (ports.length) {
    lines.push('Ports:');
    for (const p of ports)
      lines.push(
        ` PublishedPort = ${p.publishedPort}`,
        `  Protocol = ${p.protocol}`,
        `  TargetPort = ${p.targetPort}`,
        `  PublishMode = ${p.publishMode}`,
        // The mesh options only where set (the wire sends false and 0 for unset).
        ...(p.preserveClientAddress ? ['  ClientAddress = preserve'] : []),
        ...(p.idleTimeoutSeconds ? [`  IdleTimeout = ${formatDuration(p.idleTimeoutSeconds * 1000)}`] : []),
      );
  }
  return lines.join('\n');
}
