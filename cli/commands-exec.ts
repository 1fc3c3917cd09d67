// `swarmlite exec TASK -- CMD` and `swarmlite service logs`: the two streaming commands. Both talk to
// the local daemon, which must be a manager; the leader reaches the nodes through their sessions.
import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { unary } from '../lib/grpc.js';
import { daemonClient, explainRpcError, resolveHost } from '../daemon/client.js';

const globalsOf = (cmd: Command) => cmd.optsWithGlobals<{ host?: string }>();

interface LogMessage {
  taskId: string;
  nodeId: string;
  stream: string;
  time: string;
  line: string;
}

interface ExecOutput {
  stdout?: Buffer;
  stderr?: Buffer;
  exited?: boolean;
  exitCode?: number;
  error?: string;
}

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
            const { tasks } = await unary<
              object,
              { tasks: { id: string; serviceName: string; slot: number; nodeId: string }[] }
            >(client, 'listTasks', {});
            for (const t of tasks) names.set(t.id, `${t.serviceName}.${t.slot === 0 ? t.nodeId : t.slot}`);
            const { nodes } = await unary<
              object,
              { nodes: { id: string; description: { hostname: string } }[] }
            >(client, 'listNodes', {});
            for (const n of nodes) hosts.set(n.id, n.description.hostname);
          }
          await new Promise<void>((resolve, reject) => {
            const stream = (
              client as unknown as { serviceLogs(req: object): grpc.ClientReadableStream<LogMessage> }
            ).serviceLogs({ refs, follow: opts.follow === true, tail });
            process.once('SIGINT', () => {
              stream.cancel();
              resolve();
            });
            stream.on('data', (m: LogMessage) => {
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
    .description("Run a command in a running task (on whichever node runs it), like 'docker exec'")
    .argument('<task>', 'task id, id prefix or name (web.1)')
    .argument('<command...>', 'command and arguments (after --)')
    .option('-i, --interactive', 'keep stdin open and send it to the command')
    .option('-t, --tty', 'ask for a terminal (output still travels as plain streams)')
    .action(
      async (task: string, argv: string[], opts: { interactive?: boolean; tty?: boolean }, cmd: Command) => {
        const target = resolveHost(globalsOf(cmd).host);
        const client = daemonClient(target);
        try {
          const code = await new Promise<number>((resolve, reject) => {
            const stream = (
              client as unknown as { exec(): grpc.ClientDuplexStream<object, ExecOutput> }
            ).exec();
            stream.write({ task, argv, tty: opts.tty === true, stdin: opts.interactive === true });
            if (opts.interactive) {
              process.stdin.on('data', (d: Buffer) => stream.write({ input: { stdin: d } }));
              process.stdin.on('end', () => stream.write({ input: { stdinEof: true } }));
            }
            process.on('SIGINT', () => stream.write({ input: { signal: 'SIGINT' } }));
            let exitCode: number | undefined;
            stream.on('data', (out: ExecOutput) => {
              if (out.stdout?.length) process.stdout.write(out.stdout);
              if (out.stderr?.length) process.stderr.write(out.stderr);
              if (out.error) process.stderr.write(`${out.error}\n`);
              if (out.exited) exitCode = out.exitCode ?? 0;
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
