// `swarmlite service ...` verbs that change services: create, update, scale, rollback. Each sends
// one request to the local daemon (which forwards it to the leader), then, unless -d, follows the
// service until it converges, as `docker service` does. The read-only verbs and rm are in
// commands-service-read.ts; `service logs` is commands-exec.ts's.
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { resolveHost, withDaemon } from '../daemon/client.js';
import { registerServiceLogs } from './commands-exec.js';
import { forEachRef } from './commands-network.js';
import { addSharedSpecOptions } from './commands-service-options.js';
import { addContainerOptions } from './container-flags.js';
import { followProgress } from './commands-service-progress.js';
import { registerServiceReadCommands } from './commands-service-read.js';
import { collect, parseCount } from './service-flags.js';
import {
  applyUpdateOptions,
  buildCreateSpec,
  checkUpdateOptions,
  type CreateOptions,
  type UpdateOptions,
} from './service-spec.js';
import { isGlobal, serviceView, type ServiceView } from './objects.js';

const globalsOf = (cmd: Command) => cmd.optsWithGlobals<{ host?: string }>();
const WRITE_TIMEOUT_MS = 60_000;

interface FollowOptions {
  detach?: boolean;
  quiet?: boolean;
}

/** `service scale web=3`: the pairs, checked before anything is sent. */
export function parseScaleArgs(args: string[]): [string, number][] {
  return args.map((arg) => {
    const i = arg.lastIndexOf('=');
    if (i <= 0) throw new UserError(`invalid scale specifier '${arg}': use SERVICE=REPLICAS`, 2);
    return [arg.slice(0, i), parseCount(`scale for ${arg.slice(0, i)}`, arg.slice(i + 1))];
  });
}

function registerCreate(service: Command): void {
  const create = service
    .command('create')
    .description('Create a service')
    .argument('<image>', "image ('host': commands run on the node itself)")
    .argument('[command...]', "arguments: replace the image's cmd (its entrypoint stays; see --entrypoint)")
    // Flags after the image belong to the command: `service create host sh -c 'echo hi'`.
    .passThroughOptions()
    .option('--name <name>', 'service name')
    .option('--mode <mode>', 'replicated or global')
    .option(
      '-p, --publish <port>',
      'publish a port: [PUBLISHED:]TARGET[/PROTOCOL] or published=,target=,...',
      collect,
    )
    .option('--network <network>', 'attach to a network (repeatable)', collect)
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collect)
    .option('--constraint <expr>', 'placement constraint, e.g. node.role==worker (repeatable)', collect)
    .option('--dns <ip>', 'DNS server (repeatable)', collect)
    .option('--dns-search <domain>', 'DNS search domain (repeatable)', collect)
    .option('--dns-option <option>', 'DNS option (repeatable)', collect)
    .option('-l, --label <key=value>', 'service label (repeatable)', collect);
  addContainerOptions(create, 'create');
  addSharedSpecOptions(create).action(
    async (image: string, command: string[], opts: CreateOptions & FollowOptions, cmd: Command) => {
      const spec = buildCreateSpec(image, command, opts);
      await withDaemon(resolveHost(globalsOf(cmd).host), async (c) => {
        const created = serviceView((await c.createService({ spec }, WRITE_TIMEOUT_MS)).service);
        console.log(created.id);
        if (!opts.detach)
          await followProgress(c, created.id, 'converge', { quiet: !!opts.quiet, baseline: null });
      });
    },
  );
}

/** Every option key `update` takes that changes the spec (so --rollback can refuse to mix with them). */
const NOT_SPEC_CHANGES = new Set(['detach', 'quiet', 'rollback', 'force']);

function registerUpdate(service: Command): void {
  const update = service
    .command('update')
    .description('Update a service')
    .argument('<service>', 'name, id or id prefix')
    .option('--image <image>', 'new image')
    .option('--args <command>', 'new command line (one string, split like a shell)')
    .option('--env-add <KEY=VALUE>', 'add or change an environment variable (repeatable)', collect)
    .option('--env-rm <KEY>', 'remove an environment variable (repeatable)', collect)
    .option('--publish-add <port>', 'add or change a published port (repeatable)', collect)
    .option('--publish-rm <port>', 'remove a published port by its target port (repeatable)', collect)
    .option('--constraint-add <expr>', 'add a placement constraint (repeatable)', collect)
    .option('--constraint-rm <expr>', 'remove a placement constraint (repeatable)', collect)
    .option('--network-add <network>', 'attach to a network (repeatable)', collect)
    .option('--network-rm <network>', 'detach from a network (repeatable)', collect)
    .option('--label-add <key=value>', 'add or change a service label (repeatable)', collect)
    .option('--label-rm <key>', 'remove a service label (repeatable)', collect)
    .option('--force', 'redeploy every task even if nothing changed')
    .option('--rollback', "go back to the previous spec (as 'service rollback')");
  addContainerOptions(update, 'update');
  addSharedSpecOptions(update).action(
    async (
      ref: string,
      opts: UpdateOptions & FollowOptions & { force?: boolean; rollback?: boolean },
      cmd: Command,
    ) => {
      if (opts.rollback) {
        const mixed = Object.keys(opts).filter((k) => !NOT_SPEC_CHANGES.has(k));
        if (mixed.length)
          throw new UserError('--rollback cannot be combined with flags that change the spec', 2);
        return rollback(cmd, ref, opts);
      }
      // Bad values are usage errors before anything is read from (or sent to) the daemon.
      checkUpdateOptions(opts);
      await withDaemon(resolveHost(globalsOf(cmd).host), async (c) => {
        const current = serviceView((await c.getService({ ref })).service);
        const spec = applyUpdateOptions(current.spec, opts);
        const request = { ref: current.id, version: current.meta.version, spec, force: !!opts.force };
        const updated = serviceView((await c.updateService(request, WRITE_TIMEOUT_MS)).service);
        console.log(updated.spec.name);
        if (!opts.detach)
          await followProgress(c, updated.id, 'converge', {
            quiet: !!opts.quiet,
            baseline: updated.updateStatus,
          });
      });
    },
  );
}

async function rollback(cmd: Command, ref: string, opts: FollowOptions): Promise<void> {
  await withDaemon(resolveHost(globalsOf(cmd).host), async (c) => {
    const s = serviceView((await c.rollbackService({ ref }, WRITE_TIMEOUT_MS)).service);
    console.log(s.spec.name);
    if (!opts.detach)
      await followProgress(c, s.id, 'rollback', { quiet: !!opts.quiet, baseline: s.updateStatus });
  });
}

function registerScaleAndRollback(service: Command): void {
  service
    .command('scale')
    .description('Scale replicated services')
    .argument('<service=replicas...>')
    .option('-d, --detach', 'return at once instead of showing progress')
    .action(async (args: string[], opts: FollowOptions, cmd: Command) => {
      const pairs = parseScaleArgs(args);
      const target = resolveHost(globalsOf(cmd).host);
      const scaled: { id: string; baseline: ServiceView['updateStatus'] }[] = [];
      await forEachRef(pairs, async ([name, replicas]) => {
        await withDaemon(target, async (c) => {
          const s = serviceView((await c.getService({ ref: name })).service);
          if (isGlobal(s.spec)) throw new UserError(`${name}: scale can only be used with replicated mode`);
          const spec = { ...s.spec, replicated: { replicas }, global: null, mode: 'replicated' as const };
          const request = { ref: s.id, version: s.meta.version, spec, force: false };
          const updated = serviceView((await c.updateService(request, WRITE_TIMEOUT_MS)).service);
          scaled.push({ id: updated.id, baseline: updated.updateStatus });
          console.log(`${name} scaled to ${replicas}`);
        });
      });
      if (opts.detach) return;
      for (const { id, baseline } of scaled) {
        await withDaemon(target, (c) => followProgress(c, id, 'converge', { quiet: false, baseline }));
      }
    });

  service
    .command('rollback')
    .description("Go back to a service's previous spec")
    .argument('<service>', 'name, id or id prefix')
    .option('-d, --detach', 'return at once instead of showing progress')
    .option('-q, --quiet', 'suppress progress output')
    .action((ref: string, opts: FollowOptions, cmd: Command) => rollback(cmd, ref, opts));
}

export function registerServiceCommands(program: Command): void {
  const service = program.command('service').description("Manage the swarm's services (on a manager)");
  registerCreate(service);
  registerServiceReadCommands(service);
  registerUpdate(service);
  registerScaleAndRollback(service);
  registerServiceLogs(service);
}
