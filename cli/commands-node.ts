// `swarmlite node ...`: the swarm's nodes, as `docker node` shows and changes them.
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { resolveHost, withDaemon, type LocalCalls } from '../daemon/client.js';
import { parseFormat, printJson, renderTable } from '../lib/format.js';

import { nodeView, type NodeView } from './objects.js';
import { CONSISTENCY_FLAG, CONSISTENCY_HELP, parseConsistency } from './read-consistency.js';

const globalsOf = (cmd: Command) => cmd.optsWithGlobals<{ host?: string }>();
const title = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

function managerStatus(n: NodeView): string {
  if (!n.managerStatus) return '';
  return n.managerStatus.leader ? 'Leader' : title(n.managerStatus.reachability);
}

/**
 * `self` is the node whose daemon the CLI talks to, as Docker's CLI has it (it asks the daemon's info
 * for its node id); any other reference goes to the managers as typed.
 */
export async function selfRef(c: LocalCalls, ref: string): Promise<string> {
  if (ref !== 'self') return ref;
  const info = await c.info({});
  if (!info.nodeId) throw new UserError('this node is not part of a swarm: "self" names no node');
  return info.nodeId;
}

export function renderNodeTable(nodes: NodeView[], selfId: string, quiet: boolean): string {
  if (quiet) return nodes.map((n) => n.id).join('\n');
  const sorted = [...nodes].sort(
    (a, b) => a.description.hostname.localeCompare(b.description.hostname) || a.id.localeCompare(b.id),
  );
  return renderTable(
    ['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'ENGINE VERSION'],
    sorted.map((n) => [
      n.id + (n.id === selfId ? ' *' : ''),
      n.description.hostname,
      title(n.status.state),
      title(n.spec.availability),
      managerStatus(n),
      n.description.engineVersion,
    ]),
  );
}

function parseLabel(kv: string): [string, string] {
  const i = kv.indexOf('=');
  const key = i < 0 ? kv : kv.slice(0, i);
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(key))
    throw new UserError(`invalid label '${kv}': use key=value`, 2);
  return [key, i < 0 ? '' : kv.slice(i + 1)];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerNodeCommands(program: Command): void {
  const node = program.command('node').description("Manage the swarm's nodes (on a manager)");

  node
    .command('ls')
    .description('List nodes')
    .option('-q, --quiet', 'only IDs')
    .option('--format <format>', 'table or json')
    .option(CONSISTENCY_FLAG, CONSISTENCY_HELP)
    .action(async (opts: { quiet?: boolean; format?: string; consistency?: string }, cmd: Command) => {
      const format = parseFormat(opts.format);
      const consistency = parseConsistency(opts.consistency);
      const target = resolveHost(globalsOf(cmd).host);
      const nodes = await withDaemon(target, async (c) =>
        (await c.listNodes({ consistency })).nodes.map(nodeView),
      );
      if (format === 'json') return printJson(nodes);
      const info = await withDaemon(target, (c) => c.info({}));
      console.log(renderNodeTable(nodes, info.nodeId, !!opts.quiet));
    });

  node
    .command('inspect')
    .description('Show nodes in detail (JSON)')
    .argument('<node...>', 'id, id prefix, hostname, or self')
    .option(CONSISTENCY_FLAG, CONSISTENCY_HELP)
    .action(async (refs: string[], opts: { consistency?: string }, cmd: Command) => {
      const consistency = parseConsistency(opts.consistency);
      const target = resolveHost(globalsOf(cmd).host);
      const out: NodeView[] = [];
      for (const ref of refs) {
        const { node } = await withDaemon(target, async (c) =>
          c.getNode({ ref: await selfRef(c, ref), consistency }),
        );
        out.push(nodeView(node));
      }
      printJson(out);
    });

  const roleChange = (
    verb: 'promote' | 'demote',
    role: 'manager' | 'worker',
    done: (ref: string) => string,
  ) =>
    node
      .command(verb)
      .description(verb === 'promote' ? 'Make nodes managers' : 'Make managers workers')
      .option('-f, --force', 'demote even if the swarm loses its quorum')
      .argument('<node...>', 'id, id prefix, hostname, or self')
      .action(async (refs: string[], opts: { force?: boolean }, cmd: Command) => {
        const target = resolveHost(globalsOf(cmd).host);
        for (const ref of refs) {
          await withDaemon(target, async (c) =>
            c.updateNode({ ref: await selfRef(c, ref), role, force: !!opts.force }, 60_000),
          );
          console.log(done(ref));
        }
      });
  roleChange('promote', 'manager', (ref) => `Node ${ref} promoted to a manager in the swarm.`);
  roleChange('demote', 'worker', (ref) => `Manager ${ref} demoted in the swarm.`);

  node
    .command('update')
    .description("Change a node's availability or labels")
    .option('--availability <a>', 'active, pause or drain')
    .option('--label-add <key=value>', 'add or change a label (repeatable)', collect)
    .option('--label-rm <key>', 'remove a label (repeatable)', collect)
    .option('--role <role>', 'manager or worker')
    .argument('<node>', 'id, id prefix, hostname, or self')
    .action(
      async (
        ref: string,
        opts: { availability?: string; labelAdd?: string[]; labelRm?: string[]; role?: string },
        cmd: Command,
      ) => {
        if (opts.availability && !['active', 'pause', 'drain'].includes(opts.availability)) {
          throw new UserError(`invalid --availability '${opts.availability}': use active, pause or drain`, 2);
        }
        if (opts.role && !['manager', 'worker'].includes(opts.role))
          throw new UserError(`invalid --role '${opts.role}'`, 2);
        const labelAdd = Object.fromEntries((opts.labelAdd ?? []).map(parseLabel));
        const res = await withDaemon(resolveHost(globalsOf(cmd).host), async (c) =>
          c.updateNode(
            {
              ref: await selfRef(c, ref),
              availability: opts.availability ?? '',
              role: opts.role ?? '',
              labelAdd,
              labelRm: opts.labelRm ?? [],
            },
            60_000,
          ),
        );
        console.log(nodeView(res.node).id);
      },
    );

  node
    .command('rm')
    .description('Remove nodes from the swarm')
    .option('-f, --force', 'remove even a node that is up, or a manager')
    .argument('<node...>', 'id, id prefix or hostname')
    .action(async (refs: string[], opts: { force?: boolean }, cmd: Command) => {
      const target = resolveHost(globalsOf(cmd).host);
      for (const ref of refs) {
        await withDaemon(target, (c) => c.removeNode({ ref, force: !!opts.force }, 60_000));
        console.log(ref);
      }
    });
}
