// Reading back what the kernel has, as the planner's observed state: `ip -j`, `bridge -j` and
// `nft -j` output parsed into plain data. The parsers are pure (tested on captured output); the
// readers take a function that runs a command, so they run wherever the driver runs its steps.
import { CommandError } from '../../../lib/exec.js';
import { ip, bridge, inSandbox, NETNS_NAMES, NODE } from './commands.js';
import { FORWARDING_SYSCTL } from './plan-namespaces.js';
import {
  gatewayBridgeName,
  gatewayTableName,
  isOwnNamespaceName,
  isTempVxlanName,
  parseLegLabel,
  parseSandboxName,
  SANDBOX_BRIDGE,
  SANDBOX_VXLAN,
} from './names.js';
import type {
  Command,
  ObservedBridge,
  ObservedGateway,
  ObservedGatewayTable,
  ObservedLeg,
  ObservedOwnNamespace,
  ObservedSandbox,
  ObservedVxlan,
  OverlayObservedState,
} from './types.js';

export type CommandRunner = (cmd: Command) => Promise<string>;

/** One interface as `ip -d -j addr show` describes it (the fields the driver reads). */
export interface LinkInfo {
  ifName: string;
  kind?: string;
  alias?: string;
  master?: string;
  up: boolean;
  mtu: number;
  /** 'a.b.c.d/len' */
  addresses: string[];
  vxlan?: { vni: number; local: string; port: number; learning: boolean; proxy: boolean };
}

interface RawLink {
  ifname: string;
  flags?: string[];
  mtu: number;
  master?: string;
  ifalias?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: { id?: number; local?: string; port?: number; learning?: boolean; proxy?: boolean };
  };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

const parseJson = <T>(text: string): T[] => (text.trim() ? (JSON.parse(text) as T[]) : []);

export function parseLinks(json: string): LinkInfo[] {
  return parseJson<RawLink>(json).map((l) => {
    const data = l.linkinfo?.info_data;
    const kind = l.linkinfo?.info_kind;
    return {
      ifName: l.ifname,
      kind,
      alias: l.ifalias,
      master: l.master,
      up: (l.flags ?? []).includes('UP'),
      mtu: l.mtu,
      addresses: (l.addr_info ?? [])
        .filter((a) => a.family === 'inet')
        .map((a) => `${a.local}/${a.prefixlen}`),
      vxlan:
        kind === 'vxlan' && data
          ? {
              vni: data.id ?? 0,
              local: data.local ?? '',
              port: data.port ?? 0,
              learning: data.learning ?? true,
              proxy: data.proxy ?? false,
            }
          : undefined,
    };
  });
}

export function parseNeighbors(json: string, dev: string): { ip: string; mac: string }[] {
  return parseJson<{ dst: string; dev?: string; lladdr?: string; state?: string[] }>(json)
    .filter((n) => n.dev === dev && n.lladdr && (n.state ?? []).includes('PERMANENT'))
    .map((n) => ({ ip: n.dst, mac: (n.lladdr ?? '').toLowerCase() }));
}

/** FDB entries of the vxlan device itself that send a MAC to a remote VTEP (not the bridge's). */
export function parseFdb(json: string, dev: string): { mac: string; dst: string }[] {
  return parseJson<{ mac: string; ifname?: string; dst?: string; flags?: string[] }>(json)
    .filter((f) => f.ifname === dev && f.dst && (f.flags ?? []).includes('self'))
    .map((f) => ({ mac: f.mac.toLowerCase(), dst: f.dst ?? '' }));
}

/** Names from `ip -j netns list` (empty output when there is none). */
export function parseNetnsList(json: string): string[] {
  return parseJson<{ name: string }>(json).map((n) => n.name);
}

interface NftObject {
  chain?: { name: string };
  rule?: { chain: string; expr?: { match?: { right?: { prefix?: { addr: string; len: number } } } }[] };
}

/** What `nft -j list table inet <prefix>_gw` says about the gateway table: its chains and NAT source. */
export function parseGatewayTable(json: string): ObservedGatewayTable {
  const objects = (JSON.parse(json) as { nftables?: NftObject[] }).nftables ?? [];
  const chains = objects.flatMap((o) => (o.chain ? [o.chain.name] : []));
  const prefix = objects
    .filter((o) => o.rule?.chain === 'postrouting')
    .flatMap((o) => o.rule?.expr ?? [])
    .map((e) => e.match?.right?.prefix)
    .find((p) => p !== undefined);
  return { chains, masqueradeSource: prefix && `${prefix.addr}/${prefix.len}` };
}

const bridgeOf = (l: LinkInfo): ObservedBridge => ({ addresses: l.addresses, mtu: l.mtu, up: l.up });
const legOf = (l: LinkInfo): ObservedLeg => ({
  ifName: l.ifName,
  label: parseLegLabel(l.alias),
  master: l.master,
  up: l.up,
});

/** This prefix's sandbox namespaces, with their VNIs. */
export async function listSandboxes(
  exec: CommandRunner,
  prefix: string,
): Promise<{ netns: string; vni: number }[]> {
  const names = parseNetnsList(await exec(ip(NETNS_NAMES, '-j', 'netns', 'list')));
  return names.flatMap((netns) => {
    const vni = parseSandboxName(prefix, netns);
    return vni === undefined ? [] : [{ netns, vni }];
  });
}

/** This prefix's own endpoint namespaces (LocalTask.ownNamespace): whether lo is up and it forwards. */
export async function observeOwnNamespaces(
  exec: CommandRunner,
  prefix: string,
): Promise<ObservedOwnNamespace[]> {
  const names = parseNetnsList(await exec(ip(NETNS_NAMES, '-j', 'netns', 'list')));
  return Promise.all(
    names
      .filter((name) => isOwnNamespaceName(prefix, name))
      .sort()
      .map(async (name) => {
        const ns = inSandbox(name);
        const [lo, forwarding] = await Promise.all([
          exec(ip(ns, '-j', 'link', 'show', 'lo')),
          exec({ tool: 'sysctl', where: ns, args: ['-n', FORWARDING_SYSCTL] }),
        ]);
        return { name, loUp: parseLinks(lo)[0]?.up ?? false, forwarding: forwarding.trim() === '1' };
      }),
  );
}

export async function observeSandbox(
  exec: CommandRunner,
  netns: string,
  vni: number,
): Promise<ObservedSandbox> {
  const sb = inSandbox(netns);
  // Three reads at once (a sync's latency is mostly process starts); neighbor and FDB tables are
  // read for the whole sandbox and filtered to vxlan0, so they do not depend on it existing.
  const [linksJson, neighJson, fdbJson] = await Promise.all([
    exec(ip(sb, '-d', '-j', 'addr', 'show')),
    exec(ip(sb, '-j', 'neigh', 'show', 'nud', 'permanent')),
    exec(bridge(sb, '-j', 'fdb', 'show')),
  ]);
  const links = parseLinks(linksJson);
  const br = links.find((l) => l.ifName === SANDBOX_BRIDGE && l.kind === 'bridge');
  const vx = links.find((l) => l.ifName === SANDBOX_VXLAN && l.vxlan);
  const vxlan: ObservedVxlan | undefined = vx?.vxlan && {
    ...vx.vxlan,
    mtu: vx.mtu,
    master: vx.master,
    up: vx.up,
  };
  return {
    netns,
    vni,
    bridge: br && bridgeOf(br),
    vxlan,
    legs: links.filter((l) => l.kind === 'veth').map(legOf),
    neighbors: vx ? parseNeighbors(neighJson, SANDBOX_VXLAN) : [],
    fdb: vx ? parseFdb(fdbJson, SANDBOX_VXLAN) : [],
  };
}

/** MTU of the node's interface that holds the VTEP address (undefined: no such interface). */
export async function observeUnderlayMtu(exec: CommandRunner, vtep: string): Promise<number | undefined> {
  return underlayMtuOf(parseLinks(await exec(ip(NODE, '-j', 'addr', 'show'))), vtep);
}

const underlayMtuOf = (links: LinkInfo[], vtep: string): number | undefined =>
  links.find((l) => l.addresses.some((a) => a.split('/')[0] === vtep))?.mtu;

async function observeGatewayTable(
  exec: CommandRunner,
  prefix: string,
): Promise<ObservedGatewayTable | undefined> {
  try {
    const args = ['-j', 'list', 'table', 'inet', gatewayTableName(prefix)];
    return parseGatewayTable(await exec({ tool: 'nft', where: NODE, args }));
  } catch (err) {
    if (err instanceof CommandError && /No such file or directory/.test(err.stderr)) return undefined;
    throw err;
  }
}

/** The node namespace's part: gateway bridge, its legs and table, leftovers, the underlay MTU. */
export async function observeNode(
  exec: CommandRunner,
  prefix: string,
  vtep: string,
): Promise<Pick<OverlayObservedState, 'gateway' | 'strayTempVxlans' | 'underlayMtu'>> {
  const [links, nftTable] = await Promise.all([
    exec(ip(NODE, '-d', '-j', 'addr', 'show')).then(parseLinks),
    observeGatewayTable(exec, prefix),
  ]);
  const own = links.filter((l) => l.ifName.startsWith(`${prefix}_`));
  const brName = gatewayBridgeName(prefix);
  const br = own.find((l) => l.ifName === brName && l.kind === 'bridge');
  const gateway: ObservedGateway = {
    bridge: br && bridgeOf(br),
    nftTable,
    legs: own.filter((l) => l.kind === 'veth' && parseLegLabel(l.alias)).map(legOf),
    takenNames: own.map((l) => l.ifName),
  };
  return {
    gateway,
    strayTempVxlans: own
      .filter((l) => l.kind === 'vxlan' && isTempVxlanName(prefix, l.ifName))
      .map((l) => l.ifName),
    underlayMtu: underlayMtuOf(links, vtep),
  };
}
