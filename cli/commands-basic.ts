// `version`, `info` and `daemon`: the commands of a node on its own.
import type { Command } from 'commander';
import { arch, platform } from 'node:os';
import { DAEMON_DEFAULTS, validateDaemonOptions, type ExecutorKind } from '../daemon/options.js';
import type { LogLevel } from '../lib/log.js';
import { UserError } from '../lib/errors.js';
import { packageVersion } from '../lib/repo.js';
import { explainRpcError, localVersion, resolveHost, withDaemon, daemonClient } from '../daemon/client.js';
import { parseFormat, printJson } from '../lib/format.js';

interface GlobalOptions {
  host?: string;
}

const globals = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();

/** `gossip-udp:bad-crypto 10000, dns-udp:malformed 3`, or `none`. */
export function rejectSummary(rejects: Record<string, number | string> | undefined): string {
  const entries = Object.entries(rejects ?? {}).filter(([, n]) => Number(n) > 0);
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(', ') : 'none';
}

export function registerBasicCommands(program: Command): void {
  program
    .command('version')
    .description('Show the swarmlite version of the client and of the daemon')
    .option('--format <format>', 'table or json')
    .action(async (opts: { format?: string }, cmd: Command) => {
      const format = parseFormat(opts.format);
      const target = resolveHost(globals(cmd).host);
      const client = {
        version: packageVersion(),
        nodeVersion: process.version,
        os: platform(),
        arch: arch(),
      };
      const conn = daemonClient(target);
      try {
        const server = await localVersion(conn);
        if (format === 'json') return printJson({ client, server });
        process.stdout.write(
          `Client:\n Version:      ${client.version}\n Node.js:      ${client.nodeVersion}\n OS/Arch:      ${client.os}/${client.arch}\n\n` +
            `Server:\n Version:      ${server.version}\n API version:  ${server.apiVersion}\n` +
            ` Node.js:      ${server.nodeVersion}\n OS/Arch:      ${server.os}/${server.arch}\n Kernel:       ${server.kernel}\n`,
        );
      } catch (err) {
        // As `docker version` does: the client half is still useful when the daemon is away.
        if (format === 'table') process.stdout.write(`Client:\n Version:      ${client.version}\n\n`);
        throw explainRpcError(target, err);
      } finally {
        conn.close();
      }
    });

  program
    .command('info')
    .description("Show this node's identity, swarm state and versions")
    .option('--format <format>', 'table or json')
    .action(async (opts: { format?: string }, cmd: Command) => {
      const format = parseFormat(opts.format);
      const target = resolveHost(globals(cmd).host);
      const info = await withDaemon(target, (c) => c.info({}, 5_000));
      if (format === 'json') return printJson(info);
      const missing = Object.entries(info.tools)
        .filter(([, path]) => !path)
        .map(([tool]) => tool);
      process.stdout.write(
        [
          `Server:`,
          ` Node ID:        ${info.nodeId}`,
          ` Hostname:       ${info.hostname}`,
          ` Swarm:          ${info.swarmState}${info.swarmError ? ` (${info.swarmError})` : ''}`,
          ...(info.clusterId
            ? [
                `  Cluster ID:    ${info.clusterId}`,
                `  Role:          ${info.role}`,
                `  Managers:      ${info.managerAddrs.join(', ')}`,
                ...(info.role === 'manager'
                  ? [
                      `  Is leader:     ${info.isLeader}`,
                      `  Leader:        ${info.leaderAddr || '(none)'}`,
                      `  Nodes:         ${info.nodes} (${info.managers} managers)`,
                      `  Raft:          ${info.raftStatus}`,
                    ]
                  : []),
              ]
            : []),
          ` Version:        ${info.version}`,
          ` Node.js:        ${info.nodeVersion}`,
          ` Kernel:         ${info.kernel}`,
          ` Data root:      ${info.dataRoot}`,
          ` Exec root:      ${info.execRoot}`,
          ` Netns prefix:   ${info.netnsPrefix}`,
          ` Advertise addr: ${info.advertiseAddr || '(not set)'}`,
          ` Daemon pid:     ${info.pid}`,
          ` Rejected input: ${rejectSummary(info.rejects)}`,
          ...(missing.length ? [` WARNING: missing system tools: ${missing.join(', ')}`] : []),
        ].join('\n') + '\n',
      );
    });

  program
    .command('daemon')
    .description('Run the swarmlite daemon on this host (as root)')
    .option('--data-root <dir>', 'persistent state', DAEMON_DEFAULTS.dataRoot)
    .option('--exec-root <dir>', 'runtime state of tasks', DAEMON_DEFAULTS.execRoot)
    .option('--socket <path>', 'local API socket', DAEMON_DEFAULTS.socket)
    .option(
      '--netns-prefix <prefix>',
      'prefix of every namespace, interface and table made',
      DAEMON_DEFAULTS.netnsPrefix,
    )
    .option('--advertise-addr <ip>', 'address other nodes reach this one at', DAEMON_DEFAULTS.advertiseAddr)
    .option('--log-level <level>', 'trace, debug, info, warn, error', DAEMON_DEFAULTS.logLevel)
    .option(
      '--executor <kind>',
      'runtime, or simulated (tasks without processes, for tests)',
      DAEMON_DEFAULTS.executor,
    )
    .option(
      '--resolv-conf <path>',
      "the tasks' upstream resolvers (nameserver lines)",
      DAEMON_DEFAULTS.resolvConf,
    )
    .option(
      '--insecure-registry <host:port>',
      'a registry reached over plain HTTP (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      DAEMON_DEFAULTS.insecureRegistries,
    )
    .option('--bridge <none>', 'none: no default bridge network (containers default to none)')
    .action(
      async (opts: {
        dataRoot: string;
        execRoot: string;
        socket: string;
        netnsPrefix: string;
        advertiseAddr: string;
        logLevel: string;
        executor: string;
        resolvConf: string;
        insecureRegistry: string[];
        bridge?: string;
      }) => {
        if (opts.bridge !== undefined && opts.bridge !== 'none')
          throw new UserError(`--bridge accepts only none, got '${opts.bridge}'`);
        // Loaded here, not at startup: every other verb is a client and needs none of the daemon's code.
        const { runDaemonUntilSignalled } = await import('../daemon/daemon.js');
        await runDaemonUntilSignalled(
          validateDaemonOptions({
            dataRoot: opts.dataRoot,
            execRoot: opts.execRoot,
            socket: opts.socket,
            netnsPrefix: opts.netnsPrefix,
            advertiseAddr: opts.advertiseAddr,
            resolvConf: opts.resolvConf,
            insecureRegistries: opts.insecureRegistry,
            defaultBridge: opts.bridge === undefined,
            logLevel: opts.logLevel as LogLevel,
            executor: opts.executor as ExecutorKind,
          }),
        );
      },
    );
}
