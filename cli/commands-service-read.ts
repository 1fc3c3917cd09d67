// `swarmlite service ls | ps | inspect | rm`: reading services and their tasks (and removing them),
// printed as Docker prints them; the renderers are service-format.ts's.
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { resolveHost, withDaemon } from '../daemon/client.js';
import { forEachRef } from './commands-network.js';
import { parseFormat, printJson } from '../lib/format.js';
import { collect } from './service-flags.js';
import { CONSISTENCY_FLAG, CONSISTENCY_HELP, parseConsistency } from './read-consistency.js';
import { renderServicePretty, renderServiceTable, renderTaskTable, taskName } from './service-format.js';
import {
  networkView,
  nodeName,
  serviceListEntryView,
  serviceView,
  taskView,
  type NodeName,
  type ServiceView,
  type TaskView,
} from './objects.js';

const globalsOf = (cmd: Command) => cmd.optsWithGlobals<{ host?: string }>();

export interface TaskFilters {
  desiredStates: string[];
  nodes: string[];
  names: string[];
  ids: string[];
}

/** `-f key=value` for `service ps`: desired-state, node, name and id, each repeatable (any may match). */
export function parseTaskFilters(values: string[] = []): TaskFilters {
  const f: TaskFilters = { desiredStates: [], nodes: [], names: [], ids: [] };
  for (const v of values) {
    const i = v.indexOf('=');
    const key = i < 0 ? v : v.slice(0, i);
    const value = i < 0 ? '' : v.slice(i + 1);
    if (!value) throw new UserError(`invalid filter '${v}': use key=value`, 2);
    if (key === 'desired-state') {
      if (!['running', 'shutdown', 'accepted'].includes(value))
        throw new UserError(`invalid filter '${v}': desired-state is running, shutdown or accepted`, 2);
      f.desiredStates.push(value);
    } else if (key === 'node') f.nodes.push(value);
    else if (key === 'name') f.names.push(value);
    else if (key === 'id') f.ids.push(value);
    else throw new UserError(`invalid filter '${key}': use desired-state, node, name or id`, 2);
  }
  return f;
}

/** The filters the daemon does not apply: node (id, prefix or hostname), task name, id prefix. */
export function filterTasks(tasks: TaskView[], f: TaskFilters, nodes: NodeName[]): TaskView[] {
  const hostnames = new Map(nodes.map((n) => [n.id, n.description.hostname]));
  return tasks.filter(
    (t) =>
      (f.nodes.length === 0 ||
        f.nodes.some((n) => (t.nodeId !== '' && t.nodeId.startsWith(n)) || hostnames.get(t.nodeId) === n)) &&
      (f.names.length === 0 || f.names.includes(taskName(t))) &&
      (f.ids.length === 0 || f.ids.some((id) => t.id.startsWith(id))),
  );
}

export function registerServiceReadCommands(service: Command): void {
  service
    .command('ls')
    .alias('list')
    .description('List services')
    .option('-q, --quiet', 'only IDs')
    .option('--format <format>', 'table or json')
    .option(CONSISTENCY_FLAG, CONSISTENCY_HELP)
    .action(async (opts: { quiet?: boolean; format?: string; consistency?: string }, cmd: Command) => {
      const format = parseFormat(opts.format);
      const consistency = parseConsistency(opts.consistency);
      const services = await withDaemon(resolveHost(globalsOf(cmd).host), async (c) =>
        (await c.listServices({ consistency })).services.map(serviceListEntryView),
      );
      if (format === 'json') return printJson(services);
      const out = renderServiceTable(services, !!opts.quiet);
      if (out) console.log(out);
    });

  service
    .command('ps')
    .description("List services' tasks, with their history")
    .argument('<service...>', 'name, id or id prefix')
    .option('--no-trunc', 'full ids and errors')
    .option('-q, --quiet', 'only task IDs')
    .option('-f, --filter <key=value>', 'desired-state=running|shutdown|accepted, node=, name=, id=', collect)
    .option('--format <format>', 'table or json')
    .option(CONSISTENCY_FLAG, CONSISTENCY_HELP)
    .action(
      async (
        refs: string[],
        opts: { trunc: boolean; quiet?: boolean; filter?: string[]; format?: string; consistency?: string },
        cmd: Command,
      ) => {
        const format = parseFormat(opts.format);
        const filters = parseTaskFilters(opts.filter);
        const consistency = parseConsistency(opts.consistency);
        const { tasks, nodes } = await withDaemon(resolveHost(globalsOf(cmd).host), async (c) => {
          const nodes = (await c.listNodes({ consistency })).nodes.map(nodeName);
          const tasks: TaskView[] = [];
          for (const ref of refs) {
            const s = serviceView((await c.getService({ ref, consistency })).service);
            const res = await c.listTasks({
              service: s.id,
              desiredStates: filters.desiredStates,
              consistency,
            });
            tasks.push(...res.tasks.map(taskView));
          }
          return { tasks: filterTasks(tasks, filters, nodes), nodes };
        });
        if (format === 'json') return printJson(tasks);
        const out = renderTaskTable(tasks, nodes, Date.now(), { noTrunc: !opts.trunc, quiet: !!opts.quiet });
        if (out) console.log(out);
      },
    );

  service
    .command('inspect')
    .description('Show services in detail (JSON, or --pretty text)')
    .argument('<service...>', 'name, id or id prefix')
    .option('--pretty', "docker's human-readable text")
    .option(CONSISTENCY_FLAG, CONSISTENCY_HELP)
    .action(async (refs: string[], opts: { pretty?: boolean; consistency?: string }, cmd: Command) => {
      const consistency = parseConsistency(opts.consistency);
      await withDaemon(resolveHost(globalsOf(cmd).host), async (c) => {
        const services: ServiceView[] = [];
        for (const ref of refs) {
          services.push(serviceView((await c.getService({ ref, consistency })).service));
        }
        if (!opts.pretty) return printJson(services);
        const names = new Map<string, string>();
        if (services.some((s) => s.spec.task.networks.length)) {
          const { networks } = await c.listNetworks({ consistency });
          for (const n of networks.map(networkView)) names.set(n.id, n.spec.name);
        }
        console.log(services.map((s) => renderServicePretty(s, names)).join('\n\n'));
      });
    });

  service
    .command('rm')
    .alias('remove')
    .description('Remove services')
    .argument('<service...>', 'name, id or id prefix')
    .action(async (refs: string[], _opts, cmd: Command) => {
      const target = resolveHost(globalsOf(cmd).host);
      await forEachRef(refs, async (ref) => {
        await withDaemon(target, (c) => c.removeService({ ref }, 60_000));
        console.log(ref);
      });
    });
}
