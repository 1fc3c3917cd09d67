// This node's standalone containers, as `docker container ...` and its short forms (`run`, `ps`,
// `start`, `stop`, `restart`, `rm`, `logs`, `inspect`, `rename`): the daemon's Container* RPCs
// (daemon/local-containers.ts), printed as Docker prints them (container-output.ts). Flags are checked
// here first (usage errors, exit 2); the daemon checks them again.
import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ContainerLogLine__Output } from '../api/gen/swarmlite/local/v1/ContainerLogLine.js';
import type { ContainerCreateRequest } from '../api/gen/swarmlite/local/v1/ContainerCreateRequest.js';
import type { LocalApiClient } from '../api/rpc.js';
import { UserError } from '../lib/errors.js';
import { rpcErrorText } from '../lib/grpc-errors.js';
import { renderTable } from '../lib/format.js';
import { explainRpcError, resolveHost, withDaemon } from '../daemon/client.js';
import { formatPortLines, parsePublish } from '../worker/containers/ports.js';
import { parseRestartPolicy } from '../worker/containers/restart-policy.js';
import { parseTail } from './commands-exec.js';
import { checkTemplate, inspectObject, psRows, PS_HEADERS, renderTemplate } from './container-output.js';
import { confirm } from './prompt.js';
import { collect, parseBytes, parseCpus, parseEnv } from './service-flags.js';

const hostOf = (cmd: Command) => resolveHost(cmd.optsWithGlobals<{ host?: string }>().host);
const usage = (message: string) => new UserError(message, 2);
/** Starting and stopping wait on the runtime: generous on a loaded machine. */
const SLOW_MS = 120_000;

interface RunFlags {
  detach?: boolean;
  name?: string;
  rm?: boolean;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  restart: string;
  memory?: string;
  cpus?: string;
  network?: string;
  publish?: string[];
  publishAll?: boolean;
  networkAlias?: string[];
  dns?: string[];
  pull: string;
  interactive?: boolean;
  tty?: boolean;
}

/** `--env-file`: KEY=VALUE lines (KEY alone takes the CLI's value), blank lines and `#` comments skipped. */
export function readEnvFile(path: string, env: NodeJS.ProcessEnv = process.env): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw usage(
      `open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
    );
  }
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trimStart();
    if (line === '' || line.startsWith('#')) continue;
    if (/\s/.test(line.split('=')[0]!))
      throw usage(`invalid environment variable in ${path}: '${line}' has whitespace in its name`);
    out.push(parseEnv(line, env));
  }
  return out;
}

/** The create request from `run`/`create`'s flags; every bad value a usage error. */
export function createRequest(
  image: string,
  command: string[],
  o: RunFlags,
  start: boolean,
): ContainerCreateRequest {
  if (o.interactive || o.tty)
    throw usage('interactive containers (-i/-t) are not supported yet: run it with -d, then use exec');
  try {
    parseRestartPolicy(o.restart);
  } catch (err) {
    throw usage((err as Error).message);
  }
  if (o.rm && o.restart !== 'no') throw usage('conflicting options: cannot specify both --restart and --rm');
  if (!['missing', 'never', 'always'].includes(o.pull))
    throw usage(`invalid --pull '${o.pull}': use missing, never or always`);
  const env = [...(o.envFile ?? []).flatMap((f) => readEnvFile(f)), ...(o.env ?? []).map((e) => parseEnv(e))];
  const memoryBytes = o.memory === undefined ? 0 : parseBytes('--memory', o.memory);
  if (o.memory !== undefined && memoryBytes < 6 * 1024 * 1024)
    throw usage('Minimum memory limit allowed is 6MB');
  const nanoCpus = o.cpus === undefined ? 0 : parseCpus('--cpus', o.cpus);
  for (const a of o.networkAlias ?? [])
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(a))
      throw usage(`invalid --network-alias '${a}': use letters, digits, '_', '.' and '-'`);
  for (const d of o.dns ?? [])
    if (isIP(d) === 0) throw usage(`invalid argument "${d}" for "--dns" flag: ${d} is not an ip address`);
  const portBindings = (o.publish ?? []).map((spec) => {
    try {
      const p = parsePublish(spec);
      return {
        protocol: p.protocol,
        containerPort: p.containerPort,
        hostPort: p.hostPort,
        hostIp: p.hostIp ?? '',
      };
    } catch (err) {
      throw usage(`invalid -p: ${(err as Error).message}`);
    }
  });
  if (o.cpus !== undefined && nanoCpus < 10_000_000)
    throw usage('Range of CPUs is from 0.01 to the number of CPUs');
  return {
    name: o.name ?? '',
    config: {
      image,
      entrypointSet: o.entrypoint !== undefined,
      entrypoint: o.entrypoint ? [o.entrypoint] : [],
      cmd: command,
      env,
      workdir: o.workdir ?? '',
      user: o.user ?? '',
      hostname: o.hostname ?? '',
    },
    hostConfig: {
      restartPolicy: o.restart,
      autoRemove: o.rm === true,
      memoryBytes,
      nanoCpus,
      networkMode: o.network ?? '',
      portBindings,
      publishAllPorts: o.publishAll === true,
      networkAliases: o.networkAlias ?? [],
      dns: o.dns ?? [],
    },
    pull: o.pull,
    start,
  };
}

function runOptions(cmd: Command, forRun: boolean): Command {
  if (forRun) cmd.option('-d, --detach', 'run in the background and print the container id');
  return cmd
    .option('--name <name>', 'assign a name (default: a generated adjective_surname)')
    .option('--rm', 'remove the container when it exits')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect)
    .option('--env-file <file>', 'read environment variables from a file (repeatable)', collect)
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user name or uid (and group)')
    .option('--hostname <name>', 'container host name (default: its short id)')
    .option('--entrypoint <cmd>', "replace the image's entrypoint")
    .option('--restart <policy>', 'no | always | unless-stopped | on-failure[:max-retries]', 'no')
    .option('-m, --memory <bytes>', 'memory limit (e.g. 64m)')
    .option('--cpus <n>', 'CPU limit (e.g. 0.5)')
    .option(
      '--network <network>',
      'a local network: bridge (the default), host, none, or one of `network create`',
    )
    .option(
      '--network-alias <alias>',
      "another name of the container on its user network's embedded DNS (repeatable)",
      collect,
    )
    .option('--dns <ip>', 'an upstream DNS server (repeatable)', collect)
    .option(
      '-p, --publish <[ip:]host:container[/proto]>',
      'publish a container port on the node (repeatable)',
      collect,
    )
    .option('-P, --publish-all', "publish the image's exposed ports on free ports of 32768-60999")
    .option('--pull <when>', 'pull the image: missing | never | always', 'missing')
    .option('-i, --interactive', 'not supported yet')
    .option('-t, --tty', 'not supported yet')
    .argument('<image>')
    .argument('[command...]', "replaces the image's cmd")
    .passThroughOptions();
}

/** Follows a container's output until it stops: `attached` first (then `onAttached`), `exited` last. */
function attachLogs(client: LocalApiClient, ref: string, onAttached: () => Promise<void>): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = client.containerLogs({ ref, follow: true, tail: -1, attach: true });
    let code: number | undefined;
    stream.on('data', (m: ContainerLogLine__Output) => {
      if (m.attached) onAttached().catch((err: unknown) => (stream.cancel(), reject(err)));
      else if (m.exited) code = m.exitCode;
      else (m.stream === 'stderr' ? process.stderr : process.stdout).write(`${m.line}\n`);
    });
    stream.on('end', () => resolve(code ?? 0));
    stream.on('error', (err: grpc.ServiceError) =>
      err.code === grpc.status.CANCELLED ? resolve(130) : reject(err),
    );
    process.once('SIGINT', () => stream.cancel());
  });
}

async function run(image: string, command: string[], o: RunFlags, cmd: Command): Promise<void> {
  const detach = o.detach === true;
  const req = createRequest(image, command[0] === '--' ? command.slice(1) : command, o, detach);
  await withDaemon(hostOf(cmd), async (calls, client) => {
    const { container } = await calls.containerCreate(req, SLOW_MS);
    if (detach) {
      process.stdout.write(`${container!.id}\n`);
      return;
    }
    // In the foreground: the output is followed from before the start, so no line is missed.
    process.exitCode = await attachLogs(client, container!.id, async () => {
      await calls.containerStart({ ref: container!.id }, SLOW_MS);
    });
  });
}

/** Docker's way with several containers: each done or refused on its own line, exit 1 if any failed. */
async function eachRef(
  refs: string[],
  cmd: Command,
  work: (calls: Parameters<Parameters<typeof withDaemon>[1]>[0], ref: string) => Promise<string>,
): Promise<void> {
  const target = hostOf(cmd);
  let failed = false;
  await withDaemon(target, async (calls) => {
    for (const ref of refs) {
      try {
        process.stdout.write(`${await work(calls, ref)}\n`);
      } catch (err) {
        const e = err as Partial<grpc.ServiceError>;
        if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED) throw err;
        process.stderr.write(`Error response from daemon: ${rpcErrorText(err)}\n`);
        failed = true;
      }
    }
  });
  if (failed) process.exitCode = 1;
}

function timeoutFlag(value: string | undefined): { hasTimeout: boolean; timeoutSeconds: number } {
  if (value === undefined) return { hasTimeout: false, timeoutSeconds: 0 };
  if (!/^\d{1,6}$/.test(value)) throw usage(`invalid --time '${value}': use a number of seconds`);
  return { hasTimeout: true, timeoutSeconds: Number(value) };
}

/** The verbs, on `container` and (the short forms Docker has) on the program itself. */
function defineVerbs(parent: Command, topLevel: boolean): void {
  runOptions(parent.command('run').description('Create and start a container'), true).action(
    (image: string, command: string[], o: RunFlags, cmd: Command) => run(image, command, o, cmd),
  );
  if (!topLevel)
    runOptions(parent.command('create').description('Create a container without starting it'), false).action(
      async (image: string, command: string[], o: RunFlags, cmd: Command) => {
        const req = createRequest(image, command, o, false);
        const res = await withDaemon(hostOf(cmd), (c) => c.containerCreate(req, SLOW_MS));
        process.stdout.write(`${res.container!.id}\n`);
      },
    );

  const ls = parent
    .command(topLevel ? 'ps' : 'ls')
    .description('List containers (running ones unless -a)')
    .option('-a, --all', 'show all containers')
    .option('-q, --quiet', 'only ids')
    .option('--no-trunc', 'full ids and commands')
    .option('--format <template>', "Go-template subset ('{{.Name}}'), or json")
    .action(async (o: { all?: boolean; quiet?: boolean; trunc: boolean; format?: string }, cmd: Command) => {
      if (o.format && o.format !== 'json') checkTemplate(o.format);
      const { containers } = await withDaemon(hostOf(cmd), (c) => c.containerList({ all: o.all === true }));
      if (o.quiet) {
        for (const c of containers) process.stdout.write(`${o.trunc ? c.id.slice(0, 12) : c.id}\n`);
      } else if (o.format === 'json') {
        for (const c of containers) process.stdout.write(`${JSON.stringify(inspectObject(c))}\n`);
      } else if (o.format) {
        for (const c of containers) process.stdout.write(`${renderTemplate(o.format, inspectObject(c))}\n`);
      } else process.stdout.write(`${renderTable(PS_HEADERS, psRows(containers, Date.now(), !o.trunc))}\n`);
    });
  if (!topLevel) ls.alias('ps').alias('list');

  parent
    .command('start')
    .description('Start stopped containers')
    .argument('<container...>')
    .action((refs: string[], _o: unknown, cmd: Command) =>
      eachRef(refs, cmd, async (c, ref) => (await c.containerStart({ ref }, SLOW_MS), ref)),
    );
  for (const verb of ['stop', 'restart'] as const)
    parent
      .command(verb)
      .description(verb === 'stop' ? 'Stop running containers (SIGTERM, then SIGKILL)' : 'Restart containers')
      .argument('<container...>')
      .option('-t, --time <seconds>', 'seconds to wait before killing it (default 10)')
      .action((refs: string[], o: { time?: string }, cmd: Command) => {
        const t = timeoutFlag(o.time);
        return eachRef(refs, cmd, async (c, ref) => {
          if (verb === 'stop') await c.containerStop({ ref, ...t }, SLOW_MS);
          else await c.containerRestart({ ref, ...t }, SLOW_MS);
          return ref;
        });
      });
  parent
    .command('rm')
    .description('Remove containers')
    .argument('<container...>')
    .option('-f, --force', 'kill and remove a running container')
    .action((refs: string[], o: { force?: boolean }, cmd: Command) =>
      eachRef(
        refs,
        cmd,
        async (c, ref) => (await c.containerRemove({ ref, force: o.force === true }, SLOW_MS), ref),
      ),
    );
  parent
    .command('rename')
    .description('Rename a container')
    .argument('<container>')
    .argument('<new-name>')
    .action(async (ref: string, newName: string, _o: unknown, cmd: Command) => {
      await withDaemon(hostOf(cmd), (c) => c.containerRename({ ref, newName }));
    });
  parent
    .command('port')
    .description("List a container's published ports, or the node port of one")
    .argument('<container>')
    .argument('[port[/proto]]')
    .action(async (ref: string, wanted: string | undefined, _o: unknown, cmd: Command) => {
      if (wanted !== undefined && !/^[0-9]{1,5}(\/(tcp|udp))?$/.test(wanted))
        throw usage(`invalid port '${wanted}': use PORT or PORT/tcp|udp`);
      const c = await withDaemon(hostOf(cmd), async (cl) => (await cl.containerInspect({ ref })).container!);
      const ports = (c.networkSettings?.ports ?? []).map((p) => ({
        protocol: p.protocol === 'udp' ? ('udp' as const) : ('tcp' as const),
        containerPort: p.containerPort,
        hostPort: p.hostPort,
        ...(p.hostIp ? { hostIp: p.hostIp } : {}),
      }));
      const lines = formatPortLines(
        ports,
        wanted === undefined || wanted.includes('/') ? wanted : `${wanted}/tcp`,
      );
      if (wanted !== undefined && lines.length === 0)
        throw new UserError(
          `No public port '${wanted.includes('/') ? wanted : `${wanted}/tcp`}' published for ${ref}`,
        );
      if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    });
  parent
    .command('inspect')
    .description('Show containers in detail (JSON, or a template per container)')
    .argument('<container...>')
    .option('-f, --format <template>', "Go-template subset: '{{.State.Status}}', '{{json .Config}}'")
    .action(async (refs: string[], o: { format?: string }, cmd: Command) => {
      if (o.format) checkTemplate(o.format);
      const found: Record<string, unknown>[] = [];
      let failed = false;
      await withDaemon(hostOf(cmd), async (c) => {
        for (const ref of refs) {
          try {
            found.push(inspectObject((await c.containerInspect({ ref })).container!));
          } catch (err) {
            if ((err as grpc.ServiceError).code !== grpc.status.NOT_FOUND) throw err;
            process.stderr.write(`Error: ${rpcErrorText(err)}\n`);
            failed = true;
          }
        }
      });
      if (o.format) for (const f of found) process.stdout.write(`${renderTemplate(o.format, f)}\n`);
      else process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
      if (failed) process.exitCode = 1;
    });
  parent
    .command('logs')
    .description("Fetch a container's output")
    .argument('<container>')
    .option('-f, --follow', 'follow until the container stops')
    .option('-n, --tail <n>', 'lines from the end', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .action(
      async (ref: string, o: { follow?: boolean; tail: string; timestamps?: boolean }, cmd: Command) => {
        const tail = parseTail(o.tail);
        const target = hostOf(cmd);
        await withDaemon(
          target,
          (_c, client) =>
            new Promise<void>((resolve, reject) => {
              const stream = client.containerLogs({ ref, follow: o.follow === true, tail, attach: false });
              stream.on('data', (m: ContainerLogLine__Output) => {
                if (m.exited || m.attached) return;
                (m.stream === 'stderr' ? process.stderr : process.stdout).write(
                  `${o.timestamps ? `${m.time} ` : ''}${m.line}\n`,
                );
              });
              stream.on('end', () => resolve());
              stream.on('error', (err: grpc.ServiceError) =>
                err.code === grpc.status.CANCELLED ? resolve() : reject(err),
              );
              process.once('SIGINT', () => stream.cancel());
            }),
        );
      },
    );
  if (!topLevel) {
    parent
      .command('prune')
      .description('Remove all stopped containers')
      .option('-f, --force', 'do not ask for confirmation')
      .action(async (o: { force?: boolean }, cmd: Command) => {
        if (
          !o.force &&
          !(await confirm(
            'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ',
          ))
        )
          return;
        const { deleted } = await withDaemon(hostOf(cmd), (c) => c.containerPrune({}, SLOW_MS));
        if (deleted.length) process.stdout.write(`Deleted Containers:\n${deleted.join('\n')}\n\n`);
        process.stdout.write('Total reclaimed space: 0B\n');
      });
    parent
      .command('wait')
      .description('Wait until containers stop, then print their exit codes')
      .argument('<container...>')
      .action((refs: string[], _o: unknown, cmd: Command) =>
        eachRef(refs, cmd, async (c, ref) =>
          String((await c.containerWait({ ref }, 24 * 3600_000)).exitCode),
        ),
      );
  }
}

export function registerContainerCommands(program: Command): void {
  defineVerbs(program.command('container').description("Manage this node's standalone containers"), false);
  defineVerbs(program, true);
}

/** Whether `ref` names a container of the local daemon (exec tries containers before swarm tasks). */
export async function isLocalContainer(
  client: LocalApiClient,
  target: string,
  ref: string,
): Promise<boolean> {
  try {
    await new Promise((resolve, reject) =>
      client.containerInspect({ ref }, (err, res) => (err ? reject(err) : resolve(res))),
    );
    return true;
  } catch (err) {
    if ((err as grpc.ServiceError).code === grpc.status.NOT_FOUND) return false;
    throw explainRpcError(target, err);
  }
}
