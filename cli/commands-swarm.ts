// `init`, `join`, `join-token`, `leave`: this node's membership of a swarm, with Docker's wording.
import type { Command } from 'commander';
import { isIPv4 } from 'node:net';
import { parseDuration } from '../lib/duration.js';
import { UserError } from '../lib/errors.js';
import { resolveHost, withDaemon } from '../daemon/client.js';
import { DEFAULT_MAX_REPLICAS, DEFAULT_MAX_TASKS_PER_NODE } from '../api/objects/index.js';

const globalsOf = (cmd: Command) => cmd.optsWithGlobals<{ host?: string }>();

/** A whole number from 1 to 10,000,000 (a usage error otherwise, exit 2). */
function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > 10_000_000)
    throw new UserError(`${flag} must be a whole number from 1 to 10000000, got '${value}'`, 2);
  return n;
}

/** host or host:port with a valid IPv4 host and port; the default port is the manager port. */
export function parseAddrPort(value: string, what: string, defaultPort = 2377): string {
  const m = /^([0-9.]+)(?::([0-9]{1,5}))?$/.exec(value);
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!m || !isIPv4(m[1]!) || port < 1 || port > 65535) {
    throw new UserError(`invalid ${what} '${value}': use IPv4[:PORT], e.g. 198.18.0.11:2377`, 2);
  }
  return `${m[1]}:${port}`;
}

function joinInstructions(role: 'worker' | 'manager', token: string, addr: string): string {
  return `To add a ${role} to this swarm, run the following command:\n\n    swarmlite join --token ${token} ${addr}\n`;
}

export function registerSwarmCommands(program: Command): void {
  program
    .command('init')
    .description('Initialize a swarm: this node becomes its first manager')
    .option('--advertise-addr <ip>', 'address other nodes reach this manager at')
    .option('--listen-addr <ip:port>', 'address the manager port listens on', '0.0.0.0:2377')
    .option(
      '--force-new-cluster',
      "force a new cluster from this manager's current state (quorum loss recovery)",
    )
    .option('--default-addr-pool <cidr...>', 'address pools for overlay subnets (default 10.0.0.0/8)')
    .option('--default-addr-pool-mask-length <n>', 'subnet size carved from the pools', '24')
    .option('--dispatcher-heartbeat <duration>', 'heartbeat period nodes are told to use', '1s')
    .option('--cert-expiry <duration>', 'validity of node certificates (renewed at half-life)', '2160h')
    .option('--max-replicas <n>', 'most replicas one service may ask for', String(DEFAULT_MAX_REPLICAS))
    .option(
      '--max-tasks-per-node <n>',
      'most tasks the scheduler gives one node (the rest stay pending)',
      String(DEFAULT_MAX_TASKS_PER_NODE),
    )
    .action(async (opts, cmd: Command) => {
      const listen = parseAddrPort(opts.listenAddr, '--listen-addr');
      const advertise = opts.advertiseAddr
        ? parseAddrPort(opts.advertiseAddr, '--advertise-addr', Number(listen.split(':')[1]))
        : '';
      const mask = Number(opts.defaultAddrPoolMaskLength);
      if (!Number.isInteger(mask) || mask < 8 || mask > 29) {
        throw new UserError(
          `--default-addr-pool-mask-length must be 8..29, got '${opts.defaultAddrPoolMaskLength}'`,
          2,
        );
      }
      const heartbeat = parseDuration(opts.dispatcherHeartbeat);
      if (heartbeat === undefined || heartbeat < 100 || heartbeat > 60_000) {
        throw new UserError(
          `--dispatcher-heartbeat must be a duration from 100ms to 1m, got '${opts.dispatcherHeartbeat}'`,
          2,
        );
      }
      // Docker's minimum is 1h; a lab may want to watch renewals happen, so seconds are allowed.
      const certExpiry = parseDuration(opts.certExpiry);
      if (certExpiry === undefined || certExpiry < 20_000) {
        throw new UserError(`--cert-expiry must be a duration of at least 20s, got '${opts.certExpiry}'`, 2);
      }
      const maxReplicas = positiveInt(opts.maxReplicas, '--max-replicas');
      const maxTasksPerNode = positiveInt(opts.maxTasksPerNode, '--max-tasks-per-node');
      const res = await withDaemon(resolveHost(globalsOf(cmd).host), (c) =>
        c.init(
          {
            advertiseAddr: advertise,
            listenAddr: listen,
            forceNewCluster: !!opts.forceNewCluster,
            defaultAddrPool: opts.defaultAddrPool ?? [],
            defaultAddrPoolMaskLength: mask,
            dispatcherHeartbeatMs: heartbeat,
            nodeCertExpiryMs: certExpiry,
            maxReplicas,
            maxTasksPerNode,
          },
          60_000,
        ),
      );
      process.stdout.write(
        `Swarm initialized: current node (${res.nodeId}) is now a manager.\n\n` +
          joinInstructions('worker', res.workerToken, res.managerAddr) +
          `\nTo add a manager to this swarm, run 'swarmlite join-token manager' and follow the instructions.\n`,
      );
    });

  program
    .command('join')
    .description('Join a swarm as a worker or manager, as the token says')
    .requiredOption('--token <token>', 'the join token (swarmlite join-token worker|manager)')
    .option('--advertise-addr <ip>', 'address other nodes reach this node at')
    .option('--listen-addr <ip:port>', 'manager port listen address, if joining as a manager', '0.0.0.0:2377')
    .argument('<host:port>', 'a manager of the swarm')
    .action(async (remote: string, opts, cmd: Command) => {
      const remoteAddr = parseAddrPort(remote, 'manager address');
      const listen = parseAddrPort(opts.listenAddr, '--listen-addr');
      const advertise = opts.advertiseAddr
        ? parseAddrPort(opts.advertiseAddr, '--advertise-addr', Number(listen.split(':')[1]))
        : '';
      if (!/^SWMTKN-1-[0-9a-z]+-[0-9a-z]+$/.test(opts.token)) {
        throw new UserError(
          'invalid join token: it looks like SWMTKN-1-<digest>-<secret> (see swarmlite join-token)',
          2,
        );
      }
      const res = await withDaemon(resolveHost(globalsOf(cmd).host), (c) =>
        c.join(
          {
            token: opts.token,
            remoteAddr,
            advertiseAddr: advertise,
            listenAddr: listen,
          },
          60_000,
        ),
      );
      process.stdout.write(`This node joined a swarm as a ${res.role}.\n`);
    });

  program
    .command('join-token')
    .description('Print (or rotate) the command that joins a worker or a manager')
    .argument('<role>', 'worker or manager')
    .option('-q, --quiet', 'only print the token')
    .option('--rotate', 'replace the token: the old one stops working at once')
    .action(async (role: string, opts: { quiet?: boolean; rotate?: boolean }, cmd: Command) => {
      if (role !== 'worker' && role !== 'manager')
        throw new UserError(`unknown role '${role}': use worker or manager`, 2);
      const target = resolveHost(globalsOf(cmd).host);
      const tokens = await withDaemon(target, (c) =>
        opts.rotate ? c.rotateJoinToken({ role }) : c.getJoinTokens({}),
      );
      const info = await withDaemon(target, (c) => c.info({}));
      const token = tokens[role];
      if (opts.quiet) return void process.stdout.write(token + '\n');
      if (opts.rotate) process.stdout.write(`Successfully rotated ${role} join token.\n\n`);
      process.stdout.write(joinInstructions(role, token, info.managerAddrs[0] ?? info.advertiseAddr));
    });

  program
    .command('leave')
    .description('Leave the swarm')
    .option('-f, --force', 'leave even as a manager (may cost the swarm its quorum)')
    .action(async (opts: { force?: boolean }, cmd: Command) => {
      await withDaemon(resolveHost(globalsOf(cmd).host), (c) => c.leave({ force: !!opts.force }, 30_000));
      process.stdout.write('Node left the swarm.\n');
    });
}
