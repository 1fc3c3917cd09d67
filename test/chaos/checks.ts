// What a chaos round checks once its faults are healed: services converged to an acknowledged spec, no
// slot running twice (asked of the hosts' task runtimes, i.e. real processes, not of the managers'
// records), and, after teardown, nothing of the lab left on the machine.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { TaskView } from '../../cli/objects.js';
import { taskRuntime } from '../../daemon/executor.js';
import { namespacesWithPrefix } from '../../deploy/lab/network.js';
import { labDir, type LabHostState, type LabState } from '../../deploy/lab/state.js';
import { run } from '../../lib/exec.js';
import { isRunning, processRef, type ProcessRef } from '../../lib/process.js';
import { serviceListEntryView, taskView } from '../../cli/objects.js';
import { api } from './kv.js';
import { chaosTable } from './faults.js';
import type { ServiceRecord, Shape } from './workload.js';

const generationOf = (t: TaskView) =>
  Number(t.spec.env.find((e) => e.startsWith('CHAOS_GENERATION='))?.split('=')[1] ?? NaN);

/**
 * Problems with the services as the leader reports them: a spec that is neither the last acknowledged
 * one nor one of the failed writes after it, running != desired, or running tasks of an older spec.
 */
export async function serviceProblems(host: LabHostState, records: ServiceRecord[]): Promise<string[]> {
  const services = (await api(host, (c) => c.listServices({}))).services.map(serviceListEntryView);
  const problems: string[] = [];
  for (const rec of records) {
    const found = problems.length;
    const entry = services.find((s) => s.service.spec.name === rec.name);
    const allowed: Shape[] = [...(rec.acked ? [rec.acked] : []), ...rec.pending];
    if (!entry) {
      if (rec.acked) problems.push(`${rec.name}: acknowledged, but gone`);
      continue;
    }
    const generation = Number(
      entry.service.spec.task.env.find((e) => e.startsWith('CHAOS_GENERATION='))?.split('=')[1],
    );
    const replicas = entry.service.spec.replicated?.replicas ?? -1;
    if (!allowed.some((s) => s.replicas === replicas && s.generation === generation)) {
      problems.push(
        `${rec.name}: spec {replicas ${replicas}, generation ${generation}} is not the acknowledged ` +
          `${JSON.stringify(rec.acked)} nor a failed write after it ${JSON.stringify(rec.pending)}`,
      );
      continue;
    }
    if (entry.running !== entry.desired || entry.desired !== replicas)
      problems.push(
        `${rec.name}: ${entry.running} running of ${entry.desired} desired (${replicas} replicas)`,
      );
    const tasks = (await api(host, (c) => c.listTasks({ service: rec.name }))).tasks.map(taskView);
    const stale = tasks.filter(
      (t) => t.status.state === 'running' && t.desiredState === 'running' && generationOf(t) !== generation,
    );
    if (stale.length > 0) problems.push(`${rec.name}: ${stale.length} running task(s) of an older spec`);
    if (problems.length > found) problems.push(`${rec.name} tasks: ${describeTasks(tasks)}`);
  }
  return problems;
}

/** The tasks that are or should be alive, slot by slot: what a failed round needs to be understood. */
function describeTasks(tasks: TaskView[]): string {
  const terminal = ['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove'];
  return tasks
    .filter((t) => t.desiredState === 'running' || !terminal.includes(t.status.state))
    .sort((a, b) => a.slot - b.slot)
    .map(
      (t) =>
        `slot ${t.slot} ${t.id.slice(0, 8)} on ${t.nodeId.slice(0, 8) || '-'} ${t.status.state}/${t.desiredState} ` +
        `gen ${generationOf(t)}${t.status.err ? ` err "${t.status.err}"` : ''}${t.status.message ? ` "${t.status.message}"` : ''}`,
    )
    .join(', ');
}

export interface SlotReport {
  /** Live task processes found on the hosts. */
  processes: number;
  /** "service slot N: task a on node1, task b on node4", one per slot with more than one process. */
  doubles: string[];
  /** Task pids seen, for the leftover check after teardown. */
  pids: ProcessRef[];
}

/** Every live task process on every host, matched to its slot through the manager's task records. */
export async function slotsRunning(lab: LabState, via: LabHostState): Promise<SlotReport> {
  const tasks = (await api(via, (c) => c.listTasks({}))).tasks.map(taskView);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const slots = new Map<string, string[]>();
  const report: SlotReport = { processes: 0, doubles: [], pids: [] };
  for (const host of lab.hosts) {
    const runtime = taskRuntime(host.dataRoot, host.execRoot, host.prefix, host.hostname);
    for (const rec of await runtime.list()) {
      if (rec.state !== 'running' || rec.pid === undefined) continue;
      const ref = processRef(rec.pid);
      if (!ref || !isRunning(ref)) continue;
      report.processes++;
      report.pids.push(ref);
      const task = byId.get(rec.taskId);
      // A task the store forgot (reaped) yet still running is a slot of its own: it must not run.
      const slot = task ? `${task.serviceName || task.serviceId} slot ${task.slot}` : 'unknown';
      const list = slots.get(slot) ?? [];
      list.push(`task ${rec.taskId.slice(0, 12)} on ${host.hostname}`);
      slots.set(slot, list);
    }
  }
  for (const [slot, where] of slots) {
    if (where.length > 1 || slot === 'unknown') report.doubles.push(`${slot}: ${where.join(', ')}`);
  }
  return report;
}

/** What of the lab is still on the machine after its teardown: namespaces, mounts, processes, tables. */
export async function leftovers(lab: LabState, started: ProcessRef[]): Promise<string[]> {
  const found: string[] = [];
  for (const ns of await namespacesWithPrefix(`${lab.name}-`)) found.push(`namespace ${ns}`);
  const dir = labDir(lab.name);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint?.startsWith(dir)) found.push(`mount ${mountPoint}`);
  }
  if (existsSync(dir)) found.push(`folder ${dir}`);
  for (const ref of started) if (isRunning(ref)) found.push(`process ${ref.pid}`);
  // Any process still naming the lab's folder (daemons, task supervisors) counts too.
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(`${dir}/`)) found.push(`process ${entry}: ${cmdline.replace(/\0/g, ' ').trim()}`);
  }
  // The chaos table lives in the hosts' namespaces (gone with them); one in the machine's own would
  // mean a rule went to the wrong place.
  const tables = await run('nft', ['list', 'tables']);
  for (const line of tables.split('\n'))
    if (line.includes(chaosTable(lab.name)) || line.includes(`${lab.name}-`))
      found.push(`nftables ${line.trim()}`);
  return [...new Set(found)];
}
