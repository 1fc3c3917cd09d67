// `swarmlite network ...`: the node's local networks (bridge, host, none and user bridges: the daemon's
// LocalNetwork* RPCs) and the swarm's overlay networks, as `docker network` manages both: `create`
// makes a local bridge unless told `-d overlay`; `ls` lists both; `inspect` and `rm` act on the local
// network of that name first, else on the swarm's.
import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import type { LocalNetwork__Output } from '../api/gen/swarmlite/local/v1/LocalNetwork.js';
import type { LocalNetworkCreateRequest } from '../api/gen/swarmlite/local/v1/LocalNetworkCreateRequest.js';
import type { ContainerNetworkConnectRequest } from '../api/gen/swarmlite/local/v1/ContainerNetworkConnectRequest.js';
import { UserError } from '../lib/errors.js';
import {
  checkNetworkOptions,
  checkNodeLocalSpec,
  SWARM_NETWORK_DRIVERS,
  type IpamConfig,
  type NetworkSpec,
  type SwarmNetworkDriver,
} from '../api/objects/index.js';
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
  /** `--scope swarm`: a macvlan or bridge network of the swarm (each node plugs it in locally). */
  scope?: string;
  /** `--config-only`: a local network that only holds settings for `--config-from`. */
  configOnly?: boolean;
  /** `--config-from NAME`: each node's settings from its config-only network NAME. */
  configFrom?: string;
}

/** Whether these flags make a network of the swarm (`-d overlay`, or `--scope swarm`), else a local one. */
export function isSwarmRequest(o: NetworkCreateOptions): boolean {
  if (o.scope !== undefined && o.scope !== 'local' && o.scope !== 'swarm')
    throw usage(`invalid --scope '${o.scope}': use local or swarm`);
  if (o.configOnly) {
    if (o.scope === 'swarm' || o.driver === 'overlay')
      throw usage('--config-only makes a local network of this node: not with --scope swarm or -d overlay');
    if (o.configFrom !== undefined) throw usage('--config-only and --config-from are exclusive');
    return false;
  }
  if (o.driver === 'overlay') {
    if (o.scope === 'local') throw usage('an overlay network is of the swarm: --scope local does not apply');
    return true;
  }
  if (o.configFrom !== undefined && o.scope !== 'swarm')
    throw usage('--config-from is for networks of the swarm here: add --scope swarm');
  return o.scope === 'swarm';
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
  if (!(SWARM_NETWORK_DRIVERS as readonly string[]).includes(o.driver))
    throw usage(
      `unsupported driver '${o.driver}' for a network of the swarm: use ${SWARM_NETWORK_DRIVERS.join(', ')} (macvlan and bridge with --scope swarm)`,
    );
  const driver = o.driver as SwarmNetworkDriver;
  if (driver !== 'overlay' && o.scope !== 'swarm')
    throw usage(
      `a ${driver} network of the swarm needs --scope swarm (without it, it is local to this node)`,
    );
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
  const badOption = checkNetworkOptions(options, driver);
  if (badOption) throw usage(`invalid --opt: ${badOption}`);
  const configFrom = o.configFrom ?? '';
  const badScope = checkNodeLocalSpec({ driver, ipam, options, configFrom, ingress: false });
  if (badScope) throw usage(badScope);
  return {
    name,
    driver,
    ipam,
    attachable: !!o.attachable,
    internal: !!o.internal,
    ingress: false,
    options,
    labels: parseLabels('--label', o.label),
    ...(configFrom ? { configFrom } : {}),
  };
}

/** Bridge options a local bridge network takes (Docker's names; `mtu` as the overlay's short form). */
const BRIDGE_OPTIONS = ['com.docker.network.bridge.name', 'com.docker.network.driver.mtu', 'mtu'];

/** `network create` flags for a local network (any driver but overlay) → the daemon's request. */
export function buildLocalNetworkRequest(name: string, o: NetworkCreateOptions): LocalNetworkCreateRequest {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
    throw usage(`invalid network name '${name}': use letters, digits, '_', '.' and '-'`);
  if (o.attachable) throw usage('--attachable is for overlay networks (-d overlay)');
  if (o.label?.length) throw usage('--label is for overlay networks (-d overlay) for now');
  const subnets = (o.subnet ?? []).map((s) => checkCidr('--subnet', s));
  const gateways = o.gateway ?? [];
  const ranges = (o.ipRange ?? []).map((r) => checkCidr('--ip-range', r));
  if (subnets.length > 1) throw usage('a local network takes one --subnet');
  if (gateways.length > subnets.length || ranges.length > subnets.length)
    throw usage('--gateway and --ip-range need a --subnet to go with');
  for (const g of gateways) if (!IPV4.test(g)) throw usage(`invalid --gateway '${g}': use an IPv4 address`);
  const options = Object.fromEntries((o.opt ?? []).map((kv) => parseLabel('--opt', kv)));
  if (o.driver === 'bridge' && !o.configOnly) {
    for (const key of Object.keys(options))
      if (!BRIDGE_OPTIONS.includes(key)) throw usage(`invalid --opt: unknown bridge option "${key}"`);
    if (options.mtu !== undefined) {
      options['com.docker.network.driver.mtu'] = options.mtu;
      delete options.mtu;
    }
    const mtu = options['com.docker.network.driver.mtu'];
    if (mtu !== undefined && !/^\d+$/.test(mtu))
      throw usage(`invalid --opt mtu=${mtu}: the MTU is a whole number of bytes`);
  }
  if (o.configOnly && subnets.length === 0)
    throw usage('--config-only needs --subnet (the settings the swarm network takes on this node)');
  return {
    name,
    // A config-only network has no driver of its own (Docker shows `null`): the swarm network's is used.
    driver: o.configOnly ? 'null' : o.driver,
    subnet: subnets[0] ?? '',
    gateway: gateways[0] ?? '',
    ipRange: ranges[0] ?? '',
    internal: !!o.internal,
    options,
    configOnly: !!o.configOnly,
  };
}

/** `network connect` flags → the daemon's request; a malformed --ip is refused before asking. */
export function buildConnectRequest(
  network: string,
  container: string,
  o: { ip?: string; alias?: string[] },
): ContainerNetworkConnectRequest {
  if (o.ip !== undefined && !IPV4.test(o.ip)) throw usage(`invalid --ip '${o.ip}': use an IPv4 address`);
  for (const a of o.alias ?? [])
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(a))
      throw usage(`invalid --alias '${a}': use letters, digits, '_', '.' and '-'`);
  return { network, container, ip: o.ip ?? '', aliases: o.alias ?? [] };
}

export interface NetworkRow {
  id: string;
  name: string;
  driver: string;
  scope: 'local' | 'swarm';
}

export const swarmRow = (n: NetworkView): NetworkRow => ({
  id: n.id,
  name: n.spec.name,
  driver: n.spec.driver,
  scope: 'swarm',
});
export const localRow = (n: LocalNetwork__Output): NetworkRow => ({
  id: n.id,
  name: n.name,
  driver: n.driver,
  scope: 'local',
});

export function renderNetworkTable(networks: (NetworkView | NetworkRow)[], quiet: boolean): string {
  const rows = networks.map((n) => ('spec' in n ? swarmRow(n) : n));
  const sorted = rows.sort((a, b) => a.name.localeCompare(b.name));
  if (quiet) return sorted.map((n) => shortId(n.id)).join('\n');
  return renderTable(
    ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'],
    sorted.map((n) => [shortId(n.id), n.name, n.driver, n.scope]),
  );
}

/** A local network as `network inspect` prints it (Docker's fields). */
export function localNetworkView(n: LocalNetwork__Output) {
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    IPAM: {
      Driver: 'default',
      Config: n.subnets.map((s) => ({
        Subnet: s.subnet,
        Gateway: s.gateway,
        ...(s.ipRange ? { IPRange: s.ipRange } : {}),
      })),
    },
    Internal: n.internal,
    ConfigOnly: n.configOnly,
    Containers: Object.fromEntries(
      n.containers.map((c) => [c.id, { Name: c.name, IPv4Address: c.ipv4Address, MacAddress: c.macAddress }]),
    ),
    Options: n.options,
  };
}

/** A network's `programmed` JSON from the daemon; null when the driver has nothing to show. */
const parseProgrammed = (json: string): unknown => (json ? JSON.parse(json) : null);

const notFound = (err: unknown) => (err as grpc.ServiceError).code === grpc.status.NOT_FOUND;
/** The swarm's answer when this node is in none: `network ls` then shows the local networks alone. */
const notInSwarm = (err: unknown) => /not part of a swarm|not a swarm manager/.test((err as Error).message);

/** A swarm call for a network the node does not have: outside a swarm, Docker's "not found". */
async function swarmOnly<T>(ref: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (notInSwarm(err)) throw new UserError(`network ${ref} not found`);
    throw err;
  }
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
  const network = program.command('network').description("Manage the node's and the swarm's networks");

  network
    .command('create')
    .description(
      'Create a network: a local one (bridge, macvlan, ipvlan), with -d overlay one of the swarm, with ' +
        '--scope swarm a macvlan/bridge network of the swarm, with --config-only settings for --config-from',
    )
    .argument('<name>')
    .option(
      '-d, --driver <driver>',
      'bridge, macvlan, ipvlan (local to this node unless --scope swarm; -o parent=IFACE, macvlan_mode=, ipvlan_mode=l2|l3) or overlay (the swarm)',
      'bridge',
    )
    .option('--scope <scope>', 'swarm: a macvlan or bridge network of the swarm (managers only)')
    .option('--config-only', 'only hold settings (--subnet, --ip-range, -o parent=...) for --config-from')
    .option(
      '--config-from <name>',
      "with --scope swarm: each node's settings come from its own config-only network <name>",
    )
    .option('--subnet <cidr>', 'subnet (repeatable)', collect)
    .option('--gateway <ip>', 'gateway for the subnet in the same position (repeatable)', collect)
    .option('--ip-range <cidr>', 'task addresses from this range of the subnet (repeatable)', collect)
    .option('--attachable', 'let standalone tasks attach')
    .option('--internal', 'no access to the outside')
    .option('-o, --opt <key=value>', 'driver option, e.g. mtu=1400 (repeatable)', collect)
    .option('--label <key=value>', 'network label (repeatable)', collect)
    .action(async (name: string, opts: NetworkCreateOptions, cmd: Command) => {
      if (!isSwarmRequest(opts)) {
        const req = buildLocalNetworkRequest(name, opts);
        const made = await withDaemon(resolveHost(globalsOf(cmd).host), (c) =>
          c.localNetworkCreate(req, 60_000),
        );
        console.log(made.network!.id);
        return;
      }
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
      const { local, swarm } = await withDaemon(resolveHost(globalsOf(cmd).host), async (c) => {
        const local = (await c.localNetworkList({})).networks;
        const swarm = await c
          .listNetworks({ consistency })
          .then((r) => r.networks.map(networkView))
          .catch((err: unknown) => {
            if (notInSwarm(err)) return [];
            throw err;
          });
        return { local, swarm };
      });
      if (format === 'json') return printJson([...local.map(localNetworkView), ...swarm]);
      console.log(renderNetworkTable([...local.map(localRow), ...swarm], !!opts.quiet));
    });

  network
    .command('inspect')
    .description('Show networks in detail (JSON)')
    .argument('<network...>', 'name, id or id prefix')
    .option(
      '-v, --verbose',
      'add what this node programmed (a bridge: its veths and nftables rules; an overlay: sandbox, devices, neighbor and FDB entries)',
    )
    .option(CONSISTENCY_FLAG, CONSISTENCY_HELP)
    .action(async (refs: string[], opts: { verbose?: boolean; consistency?: string }, cmd: Command) => {
      const consistency = parseConsistency(opts.consistency);
      const target = resolveHost(globalsOf(cmd).host);
      const out: object[] = [];
      for (const ref of refs) {
        const local = await withDaemon(target, (c) =>
          c.localNetworkInspect({ ref, verbose: opts.verbose === true }).catch((err: unknown) => {
            if (notFound(err)) return undefined;
            throw err;
          }),
        );
        if (local) {
          out.push({
            ...localNetworkView(local.network!),
            ...(opts.verbose ? { Programmed: parseProgrammed(local.programmedJson) } : {}),
          });
          continue;
        }
        const n = await withDaemon(target, async (c) =>
          networkView((await swarmOnly(ref, () => c.getNetwork({ ref, consistency }))).network),
        );
        // As Docker's: the manager's view, plus this node's endpoints and the peers on the network.
        const here = await withDaemon(target, (c) =>
          c.networkLocal({ networkId: n.id, vni: n.vni, verbose: opts.verbose === true }),
        );
        out.push({
          ...n,
          containers: Object.fromEntries(
            here.endpoints.map((e) => [
              e.taskId,
              { name: e.name, ipv4Address: e.address, macAddress: e.mac },
            ]),
          ),
          peers: here.peers.map((p) => ({ name: p.nodeId, ip: p.addr })),
          ...(opts.verbose
            ? { programmed: here.programmedJson ? JSON.parse(here.programmedJson) : null }
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
        await withDaemon(target, async (c) => {
          const gone = await c.localNetworkRemove({ ref }, 60_000).catch((err: unknown) => {
            if (notFound(err)) return undefined;
            throw err;
          });
          if (!gone) await swarmOnly(ref, () => c.removeNetwork({ ref }, 60_000));
        });
        console.log(ref);
      });
    });

  network
    .command('connect')
    .description('Connect a container of this node to a local network (its next interface, eth1, eth2, ...)')
    .argument('<network>', 'name, id or id prefix')
    .argument('<container>', 'name, id or id prefix')
    .option('--ip <address>', 'this IPv4 address on the network (user-defined networks)')
    .option('--alias <name>', 'a network-scoped alias (repeatable; user-defined networks)', collect)
    .action(async (net: string, container: string, opts: { ip?: string; alias?: string[] }, cmd: Command) => {
      const req = buildConnectRequest(net, container, opts);
      await withDaemon(resolveHost(globalsOf(cmd).host), (c) => c.containerNetworkConnect(req, 60_000));
    });

  network
    .command('disconnect')
    .description('Disconnect a container of this node from a local network (its interface goes)')
    .argument('<network>', 'name, id or id prefix')
    .argument('<container>', 'name, id or id prefix')
    .option('-f, --force', 'also from a network this node no longer has')
    .action(async (net: string, container: string, opts: { force?: boolean }, cmd: Command) => {
      await withDaemon(resolveHost(globalsOf(cmd).host), (c) =>
        c.containerNetworkDisconnect({ network: net, container, force: opts.force === true }, 60_000),
      );
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
