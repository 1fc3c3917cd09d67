// The routing mesh's ruleset model: plain inputs in, `nft -f` text out. Pure, no I/O.
//
// Shaped like kube-proxy's nftables mode: a verdict map from a frontend (published protocol and
// port, or a VIP) to a per-service chain; that chain spreads new connections over the live backends
// with one DNAT to `numgen random mod N map { i : backend }`. Only a connection's first packet
// traverses nat chains; conntrack carries the choice for the rest, which is also why established
// connections to a removed backend keep flowing (drain) while new ones never reach it.
//
// A frontend with no live backend is in the `no-backend` set instead, and a filter chain rejects it
// (TCP reset, ICMP port unreachable for UDP) so clients fail at once instead of waiting for a
// timeout. Reject is not allowed in nat chains, hence the separate filter hooks.
//
// Output is deterministic: frontends and backends are sorted and chain names derive from ids, so
// the same inputs render byte-identical text (golden tests, and a cheap "unchanged" check).
import { formatAddress, parseAddress } from '../lib/ipv4.js';
import { IDLE_TIMEOUT_MAX_SECONDS, isIdleTimeout } from '../api/objects/index.js';
import { assertIdentifierPart, tableName } from './names.js';
import type { Backend, Protocol, PublishedPort, RenderedTable, ServiceVip } from './types.js';

/**
 * The packet mark bit meaning "masquerade me on the way out" (kube-proxy's 0x4000 idea, another bit
 * so both could coexist). Set in a service chain, tested and cleared in postrouting.
 */
export const MASQUERADE_MARK = 0x00800000;
const MARK = `0x${MASQUERADE_MARK.toString(16).padStart(8, '0')}`;

/** nft's own number for the `dstnat` priority; this nft rejects the keyword in some hooks. */
const NAT_PRIORITY_DST = -100;
const NAT_PRIORITY_SRC = 100;

interface Target {
  address: number;
  port?: number;
}

interface Frontend {
  /** Sort key and map element key, e.g. `tcp . 5000` or `10.0.1.2`. */
  key: string;
  sortKey: string;
  chain: string;
  comment: string;
  /** Published ports only: nft maps a port in `dnat` only after a transport protocol match. */
  protocol?: Protocol;
  /** Published ports only: a conntrack idle timeout of its own. */
  idleTimeoutSeconds?: number;
  /** Published ports only: DNAT without the masquerade mark, so the backend sees the client. */
  preserveClientAddress?: boolean;
  targets: Target[];
}

/** What differs between the kinds of table: how a frontend is matched, in which hooks. */
interface TableShape {
  keyType: string;
  /** The map lookup expression. */
  selector: string;
  /** nat hooks that look up frontends, with the guard placed before the lookup. */
  natHooks: { hook: 'prerouting' | 'output'; guard: string }[];
  /** filter hooks (before NAT) that give new connections their idle timeout, with their guard. */
  timeoutHooks: { hook: 'prerouting' | 'output'; guard: string }[];
  /** filter hooks that reject no-backend frontends, with their guard. */
  rejectHooks: { hook: 'input' | 'output'; guard: string }[];
  masquerade: boolean;
}

// Published ports answer on every local address of the namespace (`fib daddr type local`), for
// traffic arriving (prerouting) and the namespace's own (output). Loopback is left out: DNAT of
// 127.0.0.0/8 to another host needs route_localnet, which we do not turn on.
const PUBLISHED_MATCH = 'fib daddr type local';
const NOT_LOOPBACK = 'ip daddr != 127.0.0.0/8';
const PUBLISHED_SHAPE = (masquerade: boolean): TableShape => ({
  keyType: 'inet_proto . inet_service',
  selector: 'meta l4proto . th dport',
  natHooks: [
    { hook: 'prerouting', guard: PUBLISHED_MATCH },
    { hook: 'output', guard: `${NOT_LOOPBACK} ${PUBLISHED_MATCH}` },
  ],
  timeoutHooks: [
    { hook: 'prerouting', guard: PUBLISHED_MATCH },
    { hook: 'output', guard: `${NOT_LOOPBACK} ${PUBLISHED_MATCH}` },
  ],
  // Input only sees local destinations already; output needs the same guard as its nat chain.
  rejectHooks: [
    { hook: 'input', guard: '' },
    { hook: 'output', guard: `${NOT_LOOPBACK} ${PUBLISHED_MATCH}` },
  ],
  masquerade,
});

// VIPs are balanced in the namespace of the task that connects (DESIGN.md §5), so only its own
// traffic (output) is looked up. The reply comes straight back from the backend to the task's own
// address, so no masquerade is needed, including when the task is balanced to itself.
const VIP_SHAPE: TableShape = {
  keyType: 'ipv4_addr',
  selector: 'ip daddr',
  natHooks: [{ hook: 'output', guard: '' }],
  timeoutHooks: [],
  rejectHooks: [{ hook: 'output', guard: '' }],
  masquerade: false,
};

/** An IPv4 address as a number, or a RangeError naming `what`. */
export function address(what: string, text: string): number {
  const parsed = parseAddress(text);
  if (typeof parsed === 'string') throw new RangeError(`${what}: ${parsed}`);
  return parsed;
}

function port(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535)
    throw new RangeError(`${what}: bad port ${value}`);
  return value;
}

function idleTimeout(p: PublishedPort): number {
  const s = p.idleTimeoutSeconds!;
  if (!isIdleTimeout(s)) {
    throw new RangeError(
      `idle timeout of ${p.protocol} ${p.publishedPort}: ${s} is not 1-${IDLE_TIMEOUT_MAX_SECONDS} seconds`,
    );
  }
  return s;
}

function protocol(what: string, value: string): Protocol {
  if (value !== 'tcp' && value !== 'udp') throw new RangeError(`${what}: bad protocol '${value}'`);
  return value;
}

/** Distinct backend addresses per (service, network), ascending; built once per render. */
function indexBackends(backends: Backend[]): (serviceId: string, networkId: string) => number[] {
  const index = new Map<string, Set<number>>();
  for (const b of backends) {
    const key = `${b.serviceId}\u0000${b.networkId}`;
    let found = index.get(key);
    if (!found) index.set(key, (found = new Set()));
    found.add(address(`backend of ${b.serviceId}`, b.address));
  }
  return (serviceId, networkId) =>
    [...(index.get(`${serviceId}\u0000${networkId}`) ?? [])].sort((x, y) => x - y);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `10.0.0.5:80` in a plain dnat, `10.0.0.5 . 80` as a map value. */
function targetText(t: Target, portSeparator: ':' | ' . '): string {
  return t.port === undefined
    ? formatAddress(t.address)
    : `${formatAddress(t.address)}${portSeparator}${t.port}`;
}

function chainBlock(name: string, lines: string[], header?: string): string[] {
  return [`\tchain ${name} {`, ...(header ? [`\t\t${header}`] : []), ...lines.map((l) => `\t\t${l}`), '\t}'];
}

function elements(items: string[]): string[] {
  if (items.length === 0) return [];
  return [
    '\t\telements = {',
    ...items.map((item, i) => `\t\t\t${item}${i < items.length - 1 ? ',' : ''}`),
    '\t\t}',
  ];
}

function withGuard(guard: string, rule: string): string {
  return guard ? `${guard} ${rule}` : rule;
}

/** Renders one table of the given shape: the replace preamble, maps, hook chains, service chains. */
/** `ct timeout` state whose expiry an idle connection of each protocol waits for. */
const IDLE_STATE: Record<Protocol, string> = { tcp: 'established', udp: 'replied' };
/** Conntrack runs at -200 and NAT at -100: a new connection's timeout is set in between. */
const TIMEOUT_PRIORITY = -150;

function timeoutName(protocol: Protocol, seconds: number): string {
  return `idle-${protocol}-${seconds}s`;
}

/** Shared `ct timeout` objects, one per (protocol, seconds), and the chains that attach them. */
function renderIdleTimeouts(shape: TableShape, frontends: Frontend[]): string[] {
  const timed = frontends.filter((f) => f.protocol && f.idleTimeoutSeconds !== undefined);
  if (timed.length === 0) return [];
  const out: string[] = [];
  const objects = [...new Set(timed.map((f) => `${f.protocol!}:${f.idleTimeoutSeconds!}`))].sort();
  for (const obj of objects) {
    const [proto, seconds] = obj.split(':') as [Protocol, string];
    out.push(
      '',
      `\tct timeout ${timeoutName(proto, Number(seconds))} {`,
      `\t\tprotocol ${proto}; l3proto ip`,
      `\t\tpolicy = { ${IDLE_STATE[proto]}: ${seconds} }`,
      '\t}',
    );
  }
  for (const { hook, guard } of shape.timeoutHooks) {
    const rules = timed.map((f) =>
      withGuard(
        `ct state new ${guard}`.trim(),
        `meta l4proto ${f.protocol!} th dport ${f.key.split(' . ')[1]} ct timeout set "${timeoutName(f.protocol!, f.idleTimeoutSeconds!)}"`,
      ),
    );
    out.push(
      '',
      ...chainBlock(
        `idle-timeouts-${hook}`,
        rules,
        `type filter hook ${hook} priority ${TIMEOUT_PRIORITY}; policy accept;`,
      ),
    );
  }
  return out;
}

function renderTable(name: string, shape: TableShape, frontends: Frontend[]): RenderedTable {
  const sorted = [...frontends].sort((a, b) => compare(a.sortKey, b.sortKey));
  const live = sorted.filter((f) => f.targets.length > 0);
  const dead = sorted.filter((f) => f.targets.length === 0);
  const out: string[] = [
    // Atomic replace: `add` makes sure the table exists so that `delete` cannot fail, then the new
    // table is defined; nft -f sends all three as one netlink batch, committed all or nothing.
    `add table ip ${name}`,
    `delete table ip ${name}`,
    `table ip ${name} {`,
    '\t# frontends with at least one live backend -> their service chain',
    '\tmap frontends {',
    `\t\ttype ${shape.keyType} : verdict`,
    ...elements(live.map((f) => `${f.key} : goto ${f.chain}`)),
    '\t}',
    '',
    '\t# frontends with no live backend: rejected at once, never silently dropped',
    '\tset no-backend {',
    `\t\ttype ${shape.keyType}`,
    ...elements(dead.map((f) => f.key)),
    '\t}',
  ];
  out.push(...renderIdleTimeouts(shape, sorted));
  for (const { hook, guard } of shape.natHooks) {
    out.push(
      '',
      ...chainBlock(
        `nat-${hook}`,
        [withGuard(guard, `${shape.selector} vmap @frontends`)],
        `type nat hook ${hook} priority ${NAT_PRIORITY_DST}; policy accept;`,
      ),
    );
  }
  if (shape.masquerade) {
    out.push(
      '',
      ...chainBlock(
        'nat-postrouting',
        [`meta mark & ${MARK} == ${MARK} meta mark set meta mark ^ ${MARK} masquerade`],
        `type nat hook postrouting priority ${NAT_PRIORITY_SRC}; policy accept;`,
      ),
    );
  }
  for (const { hook, guard } of shape.rejectHooks) {
    out.push(
      '',
      ...chainBlock(
        `reject-${hook}`,
        [withGuard(guard, `${shape.selector} @no-backend goto reject-service`)],
        `type filter hook ${hook} priority 0; policy accept;`,
      ),
    );
  }
  out.push('', ...chainBlock('reject-service', ['meta l4proto tcp reject with tcp reset', 'reject']));
  for (const f of live) {
    // One DNAT whose target numgen picks from an anonymous map: one rule per service, no chain per
    // backend. nft maps a port only after a transport protocol match, and `ip to ... map` with
    // `addr . port` values needs the family spelled out.
    const proto = f.protocol ? `meta l4proto ${f.protocol} ` : '';
    const family = f.targets.some((t) => t.port !== undefined) ? 'ip ' : '';
    const spread =
      f.targets.length === 1
        ? `${proto}dnat to ${targetText(f.targets[0], ':')}`
        : `${proto}dnat ${family}to numgen random mod ${f.targets.length} map { ${f.targets
            .map((t, i) => `${i} : ${targetText(t, ' . ')}`)
            .join(', ')} }`;
    const masquerade = shape.masquerade && !f.preserveClientAddress;
    const lines = masquerade ? [`meta mark set meta mark | ${MARK}`, spread] : [spread];
    out.push('', `\t# ${f.comment}`, ...chainBlock(f.chain, lines));
  }
  out.push('}', '');
  return { name, text: out.join('\n') };
}

export interface IngressTableInput {
  prefix: string;
  /**
   * Whether connections are masqueraded out (default true: the ingress sandbox, whose replies must
   * come back through it). False for `mode=host` in the node's own namespace: the task's default
   * route is that node already, so it sees the client without SNAT, as Docker's host mode.
   */
  masquerade?: boolean;
  /** The network whose task addresses serve published ports (the `ingress` overlay). */
  ingressNetworkId: string;
  published: PublishedPort[];
  backends: Backend[];
}

function publishedFrontends(
  published: PublishedPort[],
  targetsOf: (p: PublishedPort) => Target[],
): Frontend[] {
  const seen = new Map<string, string>();
  return published.map((p) => {
    const proto = protocol(`published port of ${p.serviceId}`, p.protocol);
    const pub = port(`published port of ${p.serviceId}`, p.publishedPort);
    assertIdentifierPart('service id', p.serviceId);
    const key = `${proto} . ${pub}`;
    const owner = seen.get(key);
    if (owner !== undefined)
      throw new RangeError(`${proto} port ${pub} is published by both ${owner} and ${p.serviceId}`);
    seen.set(key, p.serviceId);
    return {
      key,
      sortKey: `${proto}:${String(pub).padStart(5, '0')}`,
      chain: `pub-${proto}-${pub}`,
      comment: `${proto} ${pub} -> service ${p.serviceId} port ${p.targetPort}${p.preserveClientAddress ? ', client address kept' : ''}`,
      protocol: proto,
      ...(p.idleTimeoutSeconds === undefined ? {} : { idleTimeoutSeconds: idleTimeout(p) }),
      ...(p.preserveClientAddress ? { preserveClientAddress: true } : {}),
      targets: targetsOf(p),
    };
  });
}

/**
 * `<prefix>_ingress`: published ports balanced over the service's live tasks on the ingress
 * network, marked for masquerade so replies come back through this namespace — except ports with
 * `preserveClientAddress`, only DNATed: their tasks see the client, and the return path in each
 * task (return-path.ts) routes the replies back here instead. It goes in the
 * ingress sandbox (the full mesh, with `renderPublishTable` in the node's namespace), or straight
 * in a namespace that routes to the tasks (`mode=host` with local tasks, or one-node setups).
 */
export function renderIngressTable(input: IngressTableInput): RenderedTable {
  const backendsOf = indexBackends(input.backends);
  const frontends = publishedFrontends(input.published, (p) =>
    backendsOf(p.serviceId, input.ingressNetworkId).map((a) => ({
      address: a,
      port: port(`target port of ${p.serviceId}`, p.targetPort),
    })),
  );
  return renderTable(
    tableName(input.prefix, 'ingress'),
    PUBLISHED_SHAPE(input.masquerade ?? true),
    frontends,
  );
}

export interface PublishTableInput {
  prefix: string;
  published: PublishedPort[];
  /** The ingress sandbox's address on the gateway bridge (e.g. 172.18.0.2). */
  sandboxAddress: string;
}

/**
 * `<prefix>_publish`, in the node's namespace: every published port DNATed, port unchanged, to the
 * ingress sandbox, which balances it. No masquerade: the sandbox routes replies back via the
 * gateway bridge, i.e. through this namespace, which undoes the DNAT. A published port with no
 * backend is rejected by the sandbox's table, so this one never has a no-backend entry.
 */
export function renderPublishTable(input: PublishTableInput): RenderedTable {
  const sandbox = address('ingress sandbox address', input.sandboxAddress);
  const frontends = publishedFrontends(input.published, (p) => [{ address: sandbox, port: p.publishedPort }]);
  return renderTable(tableName(input.prefix, 'publish'), PUBLISHED_SHAPE(false), frontends);
}

export interface VipTableInput {
  prefix: string;
  /** The networks the task whose namespace receives this table is attached to. */
  networkIds: string[];
  vips: ServiceVip[];
  backends: Backend[];
}

/**
 * `<prefix>_vips`, in a task's namespace: the VIP of every service on the task's networks, balanced
 * over that service's live tasks on the same network. As in Docker, a VIP stands for its tasks on
 * every port and protocol, so frontends are addresses and DNAT keeps the port.
 */
export function renderVipTable(input: VipTableInput): RenderedTable {
  const networks = new Set(input.networkIds);
  const seen = new Map<number, string>();
  const frontends: Frontend[] = [];
  const backendsOf = indexBackends(input.backends);
  for (const vip of input.vips) {
    if (!networks.has(vip.networkId)) continue;
    assertIdentifierPart('service id', vip.serviceId);
    assertIdentifierPart('network id', vip.networkId);
    const addr = address(`VIP of ${vip.serviceId}`, vip.address);
    const owner = seen.get(addr);
    if (owner !== undefined)
      throw new RangeError(`VIP ${vip.address} belongs to both ${owner} and ${vip.serviceId}`);
    seen.set(addr, vip.serviceId);
    frontends.push({
      key: formatAddress(addr),
      sortKey: String(addr).padStart(10, '0'),
      chain: `svc-${vip.serviceId}-${vip.networkId}`,
      comment: `VIP ${formatAddress(addr)} -> service ${vip.serviceId} on network ${vip.networkId}`,
      targets: backendsOf(vip.serviceId, vip.networkId).map((a) => ({ address: a })),
    });
  }
  return renderTable(tableName(input.prefix, 'vips'), VIP_SHAPE, frontends);
}
