// The return path of published ports that keep the client's address (PublishedPort
// .preserveClientAddress). Pure: nft text and `ip` commands out, no I/O.
//
// Without masquerade a task receives a mesh connection from the client's own address, and its
// routing table would send the reply via its default route (the gateway bridge of its own node),
// past the ingress sandbox whose conntrack holds the DNAT: the client would get a reply from the
// wrong address. So each task namespace remembers, per connection, which ingress sandbox sent it,
// and routes the replies back there:
//
//   <prefix>_return (nft)  prerouting: a new connection whose frame came from sandbox S's MAC gets
//                          `ct mark K(S)`; route/output: packets of a connection carrying one of our
//                          ct marks get it as their packet mark, and the kernel re-routes them.
//   ip rule                `priority 32000 fwmark K(S) lookup K(S)`, one per sandbox
//   ip route               `default via <S's ingress address> dev <task's ingress interface> table K(S)`
//
// K(S) = 0x10000 | the low 16 bits of S's ingress address: deterministic on every node from the
// sandbox's address alone, unique while the ingress subnet is a /16 or smaller (10.255.0.0/16 by
// default; a collision is refused, never rendered), and clear of the masquerade bit 0x00800000 and
// of kube-proxy's and Docker's marks, which all sit below 0x10000 or above 0x1ffff. The same
// number serves as the routing table id: table ids 65536-131071 and rules at priority 32000 are
// what this module owns in a task namespace, and the only ones it ever deletes.
import { formatAddress } from '../lib/ipv4.js';
import { address } from './model.js';
import { macFromIp } from '../worker/network/overlay/names.js';
import { tableName } from './names.js';
import type { RenderedTable } from './types.js';

/** The bit every return mark has; the low 16 bits name the sandbox. */
const RETURN_MARK_BASE = 0x10000;
const RETURN_MARK_MASK = 0xffff0000;
/** Our ip rules sit here: after `local` (0), before `main` (32766). */
export const RETURN_RULE_PRIORITY = 32000;

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** The connection mark, packet mark and routing table id of replies owed to the sandbox at `ip`. */
export function returnMark(ip: string): number {
  return RETURN_MARK_BASE | (address('ingress sandbox address', ip) & 0xffff);
}

/** Whether a routing table id (or a mark) is in the range this module owns. */
const isReturnTable = (id: number) => Number.isInteger(id) && (id & RETURN_MARK_MASK) === RETURN_MARK_BASE;

export interface ReturnSandbox {
  /** The ingress sandbox's address on the ingress network (every node has one). */
  ip: string;
}

interface Resolved {
  ip: string;
  mac: string;
  mark: number;
}

/** Sandboxes sorted by address, duplicates merged, a mark collision refused. */
function resolve(sandboxes: readonly ReturnSandbox[]): Resolved[] {
  const byMark = new Map<number, Resolved>();
  for (const s of sandboxes) {
    const ip = formatAddress(address('ingress sandbox address', s.ip));
    const mark = returnMark(ip);
    const other = byMark.get(mark);
    if (other && other.ip !== ip) {
      throw new RangeError(
        `ingress sandboxes ${other.ip} and ${ip} share return mark ${hex(mark)}: the ingress subnet must be a /16 or smaller`,
      );
    }
    byMark.set(mark, { ip, mac: macFromIp(ip), mark });
  }
  return [...byMark.values()].sort((a, b) => a.mark - b.mark);
}

export interface ReturnTableInput {
  prefix: string;
  /** Every ingress sandbox that may send this task connections (one per node). */
  sandboxes: readonly ReturnSandbox[];
}

/**
 * `<prefix>_return`, in a task namespace that receives mesh traffic: marks each new connection
 * with the sandbox it came from and copies that mark onto the replies, so that the ip rules
 * (planReturnRouting) send them back through that sandbox.
 */
export function renderReturnTable(input: ReturnTableInput): RenderedTable {
  const name = tableName(input.prefix, 'return');
  const sandboxes = resolve(input.sandboxes);
  const elements = sandboxes.map(
    (s, i) => `\t\t\t${s.mac} : ${hex(s.mark)}${i < sandboxes.length - 1 ? ',' : ''}`,
  );
  const lines = [
    `add table ip ${name}`,
    `delete table ip ${name}`,
    `table ip ${name} {`,
    '\t# the ingress sandboxes by the MAC of their ingress leg -> the mark of their return route',
    '\tmap sandbox-marks {',
    '\t\ttype ether_addr : mark',
    ...(elements.length ? ['\t\telements = {', ...elements, '\t\t}'] : []),
    '\t}',
    '',
    // After conntrack (-200) has made the entry; only a connection's first packet is looked at,
    // the ct mark then lasts as long as the connection.
    '\tchain mark-sandbox {',
    '\t\ttype filter hook prerouting priority -150; policy accept;',
    '\t\tct state new ct mark set ether saddr map @sandbox-marks',
    '\t}',
    '',
    // A `route` chain: the kernel looks the route up again when it changes a packet's mark, which
    // is how a reply (routed by the main table when the socket sent it) is moved to table K. Only
    // our marks are copied, so the marks of other software's connections stay as they are.
    '\tchain route-replies {',
    '\t\ttype route hook output priority -150; policy accept;',
    `\t\tct mark & ${hex(RETURN_MARK_MASK)} == ${hex(RETURN_MARK_BASE)} meta mark set ct mark`,
    '\t}',
    '}',
    '',
  ];
  return { name, text: lines.join('\n') };
}

// ------------------------------------------------------------------ policy routing, as a plan

/** One sandbox's return route: `fwmark K lookup K`, `default via gateway dev device table K`. */
export interface ReturnRoute {
  mark: number;
  gateway: string;
  device: string;
}

export interface ReturnRoutingInput {
  sandboxes: readonly ReturnSandbox[];
  /** The task's interface on the ingress network, where the sandboxes are neighbours. */
  device: string;
}

/** What the task namespace should hold. */
export function desiredReturnRoutes(input: ReturnRoutingInput): ReturnRoute[] {
  if (!/^[A-Za-z0-9_.@-]{1,15}$/.test(input.device))
    throw new RangeError(`'${input.device}' is not an interface name`);
  return resolve(input.sandboxes).map((s) => ({ mark: s.mark, gateway: s.ip, device: input.device }));
}

/** An `ip -j rule show` entry, reduced to what ownership and comparison need. */
export interface ObservedRule {
  priority: number;
  fwmark?: number;
  fwmask?: number;
  /** Numeric table id, or undefined for named tables (main, local, ...), which are never ours. */
  table?: number;
}

/** An `ip -4 -j route show table all` entry in one of our tables. */
export interface ObservedRoute {
  table: number;
  dst: string;
  gateway?: string;
  dev?: string;
}

export interface ObservedRouting {
  rules: ObservedRule[];
  routes: ObservedRoute[];
}

const numeric = (v: unknown): number | undefined => {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string' || !/^(0x[0-9a-f]+|\d+)$/i.test(v)) return undefined;
  return Number(v);
};

/** Parses `ip -j rule show`. */
export function parseRules(json: string): ObservedRule[] {
  const rows = JSON.parse(json || '[]') as Record<string, unknown>[];
  return rows.map((r) => ({
    priority: Number(r.priority),
    ...(r.fwmark === undefined ? {} : { fwmark: numeric(r.fwmark) }),
    ...(r.fwmask === undefined ? {} : { fwmask: numeric(r.fwmask) }),
    ...(numeric(r.table) === undefined ? {} : { table: numeric(r.table) }),
  }));
}

/** Parses `ip -4 -j route show table all`, keeping only routes in our table range. */
export function parseRoutes(json: string): ObservedRoute[] {
  const rows = JSON.parse(json || '[]') as Record<string, unknown>[];
  const out: ObservedRoute[] = [];
  for (const r of rows) {
    const table = numeric(r.table);
    if (table === undefined || !isReturnTable(table)) continue;
    out.push({
      table,
      dst: String(r.dst),
      ...(typeof r.gateway === 'string' ? { gateway: r.gateway } : {}),
      ...(typeof r.dev === 'string' ? { dev: r.dev } : {}),
    });
  }
  return out;
}

/** A rule this module made: our priority, a table in our range, and its own number as the mark. */
export const isOwnRule = (r: ObservedRule) =>
  r.priority === RETURN_RULE_PRIORITY &&
  r.table !== undefined &&
  isReturnTable(r.table) &&
  r.fwmark === r.table &&
  (r.fwmask === undefined || r.fwmask === 0xffffffff);

const ruleArgs = (mark: number) => [
  'rule',
  'del',
  'priority',
  String(RETURN_RULE_PRIORITY),
  'fwmark',
  hex(mark),
  'table',
  String(mark),
];

/**
 * The `ip` commands (argument lists, without `ip`) that turn `observed` into `desired`: routes
 * first, then rules, so that a rule never points at an empty table; stale rules before their
 * tables are flushed. Rules and routes that are not ours (isOwnRule, isReturnTable) are never
 * named. Empty when nothing differs.
 */
export function planReturnRouting(desired: readonly ReturnRoute[], observed: ObservedRouting): string[][] {
  const commands: string[][] = [];
  const want = new Map(desired.map((d) => [d.mark, d]));
  const routesOf = (table: number) => observed.routes.filter((r) => r.table === table);
  for (const d of desired) {
    const have = routesOf(d.mark);
    const right = (r: ObservedRoute) => r.dst === 'default' && r.gateway === d.gateway && r.dev === d.device;
    if (!have.some(right)) {
      commands.push([
        'route',
        'replace',
        'default',
        'via',
        d.gateway,
        'dev',
        d.device,
        'table',
        String(d.mark),
      ]);
    }
    for (const r of have) {
      if (r.dst !== 'default') commands.push(['route', 'del', r.dst, 'table', String(d.mark)]);
    }
  }
  const own = observed.rules.filter(isOwnRule);
  const seen = new Set<number>();
  for (const r of own) {
    // A rule for a sandbox that is gone, or a second copy of one we want (ip rule add does not
    // refuse duplicates): `ip rule del` with the full spec removes one copy each time.
    if (!want.has(r.table!) || seen.has(r.table!)) commands.push(ruleArgs(r.table!));
    seen.add(r.table!);
  }
  for (const d of desired) {
    if (!seen.has(d.mark)) commands.push(['rule', 'add', ...ruleArgs(d.mark).slice(2)]);
  }
  const staleTables = [...new Set(observed.routes.map((r) => r.table))]
    .filter((t) => !want.has(t))
    .sort((a, b) => a - b);
  for (const t of staleTables) commands.push(['route', 'flush', 'table', String(t)]);
  return commands;
}
