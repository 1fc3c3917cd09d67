// `swarmlite network ...`: the swarm's overlay networks, as `docker network` manages swarm-scoped ones.
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { checkNetworkOptions, type IpamConfig, type NetworkSpec } from '../api/objects/index.js';
import { resolveHost, withDaemon } from '../daemon/client.js';
import { parseFormat, printJson, renderTable } from '../lib/format.js';
import { collect, parseLabel, parseLabels } from './service-flags.js';
import { networkView, shortId, type NetworkView } from './objects.js';
import { confirm } from './prompt.js';
import { CONSISTENCY_FLAG, CONSISTENCY_HELP, parseConsistency } from './read-consistency.js';

const globalsOf = (cmd: Command) => cmd.optsWithGlobals<{ host?: string }>();
const usage = (message: string) => new UserError(message, 2);

export interface NetworkCreateOptions {
  driver: string;
  subnet?: string[];
  gateway?: string[];
  ipRange?: string[];
  attachable?: boolean;
  internal?: boolean;
  opt?: string[];
  label?: string[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function checkCidr(flag: string, value: string): string {
  const [addr, bits, extra] = value.split('/');
  if (extra !== undefined || !addr || !IPV4.test(addr) || !/^\d+$/.test(bits ?? '') || Number(bits) > 32)
    throw usage(`invalid ${flag} '${value}': use an IPv4 CIDR like 10.1.0.0/24`);
  return value;
}

/**
 * `network create` flags → the spec. Gateways and IP ranges pair with the subnets in the order given,
 * as Docker pairs them; one without a subnet to go with is refused.
 */
export function buildNetworkSpec(name: string, o: NetworkCreateOptions): NetworkSpec {
  if (o.driver !== 'overlay')
    throw usage(`unsupported driver '${o.driver}': swarmlite networks use the overlay driver only`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
    throw usage(`invalid network name '${name}': use letters, digits, '_', '.' and '-'`);
  const subnets = (o.subnet ?? []).map((s) => checkCidr('--subnet', s));
  const gateways = o.gateway ?? [];
  const ranges = (o.ipRange ?? []).map((r) => checkCidr('--ip-range', r));
  if (gateways.length > subnets.length || ranges.length > subnets.length)
    throw usage('every --gateway and --ip-range needs a --subnet to go with (they pair in order)');
  for (const g of gateways) if (!IPV4.test(g)) throw usage(`invalid --gateway '${g}': use an IPv4 address`);
  const ipam: IpamConfig[] = subnets.map((subnet, i) => ({
    subnet,
    gateway: gateways[i] ?? '',
    ipRange: ranges[i] ?? '',
  }));
  const options = Object.fromEntries((o.opt ?? []).map((kv) => parseLabel('--opt', kv)));
  if (options.mtu !== undefined && !/^\d+$/.test(options.mtu))
    throw usage(`invalid --opt mtu=${options.mtu}: the MTU is a whole number of bytes`);
  const badOption = checkNetworkOptions(options);
  if (badOption) throw usage(`invalid --opt: ${badOption}`);
  return {
    name,
    driver: 'overlay',
    ipam,
    attachable: !!o.attachable,
    internal: !!o.internal,
    ingress: false,
    options,
    labels: parseLabels('--label', o.label),
  };
}

export function renderNetworkTable(networks: NetworkView[], quiet: boolean): string {
  const sorted = [...networks].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  if (quiet) return sorted.map((n) => shortId(n.id)).join('\n');
  return renderTable(
    ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'],
    sorted.map((n) => [shortId(n.id), n.spec.name, n.spec.driver, 'swarm']),
  );
}

/** Runs `fn` for each item, printing failures as Docker does and carrying on; exit 1 if any failed. */
export async function forEachRef<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let failed = false;
  for (const item of items) {
    try {
      await fn(item);
    } catch (err) {
      failed = true;
      process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  if (failed) process.exitCode = 1;
}

export function registerNetworkCommands(program: Command): void {
  const network = program.command('network').description("Manage the swarm's overlay networks");

  network
    .command('create')
    .description('Create an overlay network')
    .argument('<name>')
    .option('-d, --driver <driver>', 'network driver (overlay only)', 'overlay')
    .option('--subnet <cidr>', 'subnet (repeatable)', collect)
    .option('--gateway <ip>', 'gateway for the subnet in the same position (repeatable)', collect)
    .option('--ip-range <cidr>', 'task addresses from this range of the subnet (repeatable)', collect)
    .option('--attachable', 'let standalone tasks attach')
    .option('--internal', 'no access to the outside')
    .option('-o, --opt <key=value>', 'driver option, e.g. mtu=1400 (repeatable)', collect)
    .option('--label <key=value>', 'network label (repeatable)', collect)
    .action(async (name: string, opts: NetworkCreateOptions, cmd: Command) => {
      const spec = buildNetworkSpec(name, opts);
      const created = await withDaemon(resolveHost(globalsOf(cmd).host), async (c) =>
        networkView((await c.createNetwork({ spec }, 60_000)).network),
      );
      console.log(created.id);
    });

  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-q, --quiet', 'only IDs')
    .option('--format <format>', 'table or json')
    .option(CONSISTENCY_FLAG, CONSISTENCY_HELP)
    .action(async (opts: { quiet?: boolean; format?: string; consistency?: string }, cmd: Command) => {
      const format = parseFormat(opts.format);
      const consistency = parseConsistency(opts.consistency);
      const networks = await withDaemon(resolveHost(globalsOf(cmd).host), async (c) =>
        (await c.listNetworks({ consistency })).networks.map(networkView),
      );
      if (format === 'json') return printJson(networks);
      console.log(renderNetworkTable(networks, !!opts.quiet));
    });

  network
    .command('inspect')
    .description('Show networks in detail (JSON)')
    .argument('<network...>', 'name, id or id prefix')
    .option('-v, --verbose', 'add what this node programmed (sandbox, devices, neighbor and FDB entries)')
    .option(CONSISTENCY_FLAG, CONSISTENCY_HELP)
    .action(async (refs: string[], opts: { verbose?: boolean; consistency?: string }, cmd: Command) => {
      const consistency = parseConsistency(opts.consistency);
      const target = resolveHost(globalsOf(cmd).host);
      const out: object[] = [];
      for (const ref of refs) {
        const n = await withDaemon(target, async (c) =>
          networkView((await c.getNetwork({ ref, consistency })).network),
        );
        // As Docker's: the manager's view, plus this node's endpoints and the peers on the network.
        const local = await withDaemon(target, (c) =>
          c.networkLocal({ networkId: n.id, vni: n.vni, verbose: opts.verbose === true }),
        );
        out.push({
          ...n,
          containers: Object.fromEntries(
            local.endpoints.map((e) => [
              e.taskId,
              { name: e.name, ipv4Address: e.address, macAddress: e.mac },
            ]),
          ),
          peers: local.peers.map((p) => ({ name: p.nodeId, ip: p.addr })),
          ...(opts.verbose
            ? { programmed: local.programmedJson ? JSON.parse(local.programmedJson) : null }
            : {}),
        });
      }
      printJson(out);
    });

  network
    .command('rm')
    .alias('remove')
    .description('Remove networks')
    .argument('<network...>', 'name, id or id prefix')
    .action(async (refs: string[], _opts, cmd: Command) => {
      const target = resolveHost(globalsOf(cmd).host);
      await forEachRef(refs, async (ref) => {
        await withDaemon(target, (c) => c.removeNetwork({ ref }, 60_000));
        console.log(ref);
      });
    });

  network
    .command('prune')
    .description('Remove every network no service uses')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (opts: { force?: boolean }, cmd: Command) => {
      const target = resolveHost(globalsOf(cmd).host);
      if (
        !opts.force &&
        !(await confirm(
          'WARNING! This will remove all custom networks not used by at least one service.\n' +
            'Are you sure you want to continue? [y/N] ',
        ))
      )
        return;
      const { removed } = await withDaemon(target, (c) => c.pruneNetworks({}, 60_000));
      if (removed.length > 0) console.log(['Deleted Networks:', ...removed].join('\n'));
    });
}
