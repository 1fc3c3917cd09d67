// `swarmlite exec TASK -- CMD` and `swarmlite service logs`: the two streaming commands. Both talk to
// the local daemon, which must be a manager; the leader reaches the nodes through their sessions.
import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { daemonClient, explainRpcError, localCalls, resolveHost } from '../daemon/client.js';
import type { ExecOutput__Output } from '../api/gen/swarmlite/objects/v1/ExecOutput.js';
import type { LogMessage__Output } from '../api/gen/swarmlite/objects/v1/LogMessage.js';
import { nodeName } from './objects.js';
import { isLocalContainer } from './commands-container.js';

const globalsOf = (cmd: Command) => cmd.optsWithGlobals<{ host?: string }>();

/** Docker's log line prefix: `web.1.<task id>@<node hostname>`, padded so the bars line up. */
export function logPrefix(taskName: string, taskId: string, hostname: string, noTrunc: boolean): string {
  return `${taskName}.${noTrunc ? taskId : taskId.slice(0, 12)}@${hostname}`;
}

export function parseTail(value: string): number {
  if (value === 'all') return -1;
  if (!/^\d+$/.test(value)) throw new UserError(`invalid --tail '${value}': use a number or 'all'`, 2);
  return Number(value);
}

export function registerServiceLogs(service: Command): void {
  service
    .command('logs')
    .description('Fetch the logs of a service or task')
    .argument('<service-or-task...>')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <n>', 'lines from the end of each task log', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--no-trunc', 'full task ids')
    .option('--raw', 'lines only, no prefix')
    .action(
      async (
        refs: string[],
        opts: { follow?: boolean; tail: string; timestamps?: boolean; trunc: boolean; raw?: boolean },
        cmd: Command,
      ) => {
        const tail = parseTail(opts.tail);
        const target = resolveHost(globalsOf(cmd).host);
        const client = daemonClient(target);
        try {
          // Names for the prefixes: one look at tasks and nodes before the stream starts.
          const names = new Map<string, string>();
          const hosts = new Map<string, string>();
          if (!opts.raw) {
            const calls = localCalls(client);
            const { tasks } = await calls.listTasks({});
            for (const t of tasks) names.set(t.id, `${t.serviceName}.${t.slot === 0 ? t.nodeId : t.slot}`);
            const { nodes } = await calls.listNodes({});
            for (const n of nodes.map(nodeName)) hosts.set(n.id, n.description.hostname);
          }
          await new Promise<void>((resolve, reject) => {
            const stream = client.serviceLogs({ refs, follow: opts.follow === true, tail });
            process.once('SIGINT', () => {
              stream.cancel();
              resolve();
            });
            stream.on('data', (m: LogMessage__Output) => {
              const out = m.stream === 'stderr' ? process.stderr : process.stdout;
              const time = opts.timestamps ? `${m.time} ` : '';
              if (opts.raw) return out.write(`${time}${m.line}\n`);
              const prefix = logPrefix(
                names.get(m.taskId) ?? m.taskId,
                m.taskId,
                hosts.get(m.nodeId) ?? m.nodeId,
                !opts.trunc,
              );
              out.write(`${time}${prefix}    | ${m.line}\n`);
            });
            stream.on('end', () => resolve());
            stream.on('error', (err: grpc.ServiceError) =>
              err.code === grpc.status.CANCELLED ? resolve() : reject(explainRpcError(target, err)),
            );
          });
        } catch (err) {
          throw err instanceof UserError ? err : explainRpcError(target, err);
        } finally {
          client.close();
        }
      },
    );
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description(
      "Run a command in a running container of this node, or a swarm task (on whichever node runs it), like 'docker exec'",
    )
    .argument('<container-or-task>', 'container name, id or id prefix; or task id, id prefix or name (web.1)')
    .argument('<command...>', 'command and arguments (after --)')
    .option('-i, --interactive', 'keep stdin open and send it to the command')
    .option('-t, --tty', 'ask for a terminal (output still travels as plain streams)')
    // Docker's `exec web sh -c '...'`: the command's own flags are not exec's.
    .passThroughOptions()
    .action(
      async (task: string, words: string[], opts: { interactive?: boolean; tty?: boolean }, cmd: Command) => {
        const argv = words[0] === '--' ? words.slice(1) : words;
        const target = resolveHost(globalsOf(cmd).host);
        const client = daemonClient(target);
        try {
          // Docker's exec names a container: this node's come first, then the swarm's tasks.
          const local = await isLocalContainer(client, target, task);
          const code = await new Promise<number>((resolve, reject) => {
            const stream = local ? client.containerExec() : client.exec();
            stream.write({ task, argv, tty: opts.tty === true, stdin: opts.interactive === true });
            if (opts.interactive) {
              process.stdin.on('data', (d: Buffer) => stream.write({ input: { stdin: d } }));
              process.stdin.on('end', () => stream.write({ input: { stdinEof: true } }));
            }
            process.on('SIGINT', () => stream.write({ input: { signal: 'SIGINT' } }));
            let exitCode: number | undefined;
            stream.on('data', (out: ExecOutput__Output) => {
              if (out.stdout.length) process.stdout.write(out.stdout);
              if (out.stderr.length) process.stderr.write(out.stderr);
              if (out.error) process.stderr.write(`${out.error}\n`);
              if (out.exited) exitCode = out.exitCode;
            });
            stream.on('end', () => {
              if (exitCode === undefined)
                reject(new UserError('the exec session ended without an exit code'));
              else resolve(exitCode);
            });
            stream.on('error', (err) => reject(explainRpcError(target, err)));
          });
          process.stdin.destroy();
          process.exitCode = code;
        } finally {
          client.close();
        }
      },
    );
}
