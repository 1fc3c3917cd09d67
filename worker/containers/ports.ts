// Published ports of a standalone container, as pure functions: `-p [ip:][hostPort:]containerPort[/proto]`
// parsed, `-P`'s ports (the image's exposed ones) and the ports given without a host port taken from
// Docker's ephemeral range, and `swarmlite port` printed as `docker port` does. The bridge driver
// installs what comes out (EndpointConfig.ports).
import { isIPv4 } from 'node:net';
import type { PortBinding } from '../network/driver.js';

/** What the user asked for; `hostPort` 0: any free one of the ephemeral range. */
export interface PortRequest {
  protocol: 'tcp' | 'udp';
  containerPort: number;
  hostPort: number;
  hostIp?: string;
}

/** Docker's default range for ports it picks (the kernel's ip_local_port_range default). */
export const EPHEMERAL_FIRST = 32768;
export const EPHEMERAL_LAST = 60999;

function port(text: string, what: string, spec: string, allowZero = false): number {
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= (allowZero ? 0 : 1) && n <= 65535)) throw new Error(`invalid ${what} "${text}" in "${spec}"`);
  return n;
}

function protocolOf(text: string | undefined, spec: string): 'tcp' | 'udp' {
  if (text === undefined || text === 'tcp') return 'tcp';
  if (text === 'udp') return 'udp';
  throw new Error(`invalid protocol "${text}" in "${spec}": use tcp or udp`);
}

/** One `-p` value: `80`, `8080:80`, `8080:80/udp`, `127.0.0.1:8080:80`, `127.0.0.1::80`. */
export function parsePublish(spec: string): PortRequest {
  const [ports, proto, extra] = spec.split('/');
  if (extra !== undefined || ports === undefined || ports === '')
    throw new Error(`invalid port specification "${spec}"`);
  const protocol = protocolOf(proto, spec);
  const parts = ports.split(':');
  if (parts.length > 3) throw new Error(`invalid port specification "${spec}"`);
  const containerPort = port(parts[parts.length - 1]!, 'container port', spec);
  const hostText = parts.length >= 2 ? parts[parts.length - 2]! : '';
  const hostPort = hostText === '' ? 0 : port(hostText, 'host port', spec);
  const out: PortRequest = { protocol, containerPort, hostPort };
  if (parts.length === 3) {
    if (!isIPv4(parts[0]!)) throw new Error(`invalid host IP "${parts[0]}" in "${spec}"`);
    if (parts[0] !== '0.0.0.0') out.hostIp = parts[0]!;
  }
  return out;
}

/** An image's `ExposedPorts` keys (`80/tcp`, `53/udp`, `8080`) as requests for any host port. */
export function exposedRequests(exposed: readonly string[]): PortRequest[] {
  return exposed.map((key) => {
    const [p, proto] = key.split('/');
    return {
      protocol: protocolOf(proto, key),
      containerPort: port(p ?? '', 'exposed port', key),
      hostPort: 0,
    };
  });
}

const keyOf = (p: { protocol: string; hostPort: number }) => `${p.hostPort}/${p.protocol}`;

/**
 * The bindings to install: the explicit `-p` ones, then with `-P` every exposed port no `-p` names,
 * each request without a host port given the lowest port of the ephemeral range that `taken` (host
 * ports of other endpoints and of the node's listeners, as `port/proto`) and the earlier bindings do
 * not hold. An explicit host port taken by another container, or given twice, is refused.
 */
export function resolvePorts(
  requests: readonly PortRequest[],
  exposed: readonly PortRequest[],
  publishAll: boolean,
  taken: ReadonlySet<string>,
): PortBinding[] {
  const wanted = [...requests];
  if (publishAll) {
    for (const e of exposed) {
      if (!wanted.some((r) => r.containerPort === e.containerPort && r.protocol === e.protocol))
        wanted.push(e);
    }
  }
  const used = new Set(taken);
  const out: PortBinding[] = [];
  for (const r of wanted.filter((w) => w.hostPort !== 0)) {
    if (used.has(keyOf(r)))
      throw new Error(`Bind for ${r.hostIp ?? '0.0.0.0'}:${r.hostPort} failed: port is already allocated`);
    used.add(keyOf(r));
    out.push(binding(r, r.hostPort));
  }
  let next = EPHEMERAL_FIRST;
  for (const r of wanted.filter((w) => w.hostPort === 0)) {
    while (next <= EPHEMERAL_LAST && used.has(`${next}/${r.protocol}`)) next++;
    if (next > EPHEMERAL_LAST)
      throw new Error(`no free host port left in ${EPHEMERAL_FIRST}-${EPHEMERAL_LAST} for ${r.protocol}`);
    used.add(`${next}/${r.protocol}`);
    out.push(binding(r, next));
  }
  return out;
}

function binding(r: PortRequest, hostPort: number): PortBinding {
  return {
    protocol: r.protocol,
    containerPort: r.containerPort,
    hostPort,
    ...(r.hostIp ? { hostIp: r.hostIp } : {}),
  };
}

/** `docker port` lines: `80/tcp -> 0.0.0.0:8080`, sorted by container port then protocol. */
export function formatPortLines(bindings: readonly PortBinding[], only?: string): string[] {
  const sorted = [...bindings].sort(
    (a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol),
  );
  return sorted
    .filter(
      (b) =>
        only === undefined || `${b.containerPort}/${b.protocol}` === only || `${b.containerPort}` === only,
    )
    .map((b) =>
      only === undefined
        ? `${b.containerPort}/${b.protocol} -> ${b.hostIp ?? '0.0.0.0'}:${b.hostPort}`
        : `${b.hostIp ?? '0.0.0.0'}:${b.hostPort}`,
    );
}

/**
 * The ports the node's own processes hold, as `port/proto`, from /proc/net/{tcp,udp}[6] texts:
 * TCP sockets in LISTEN (state 0A), every bound UDP socket (a port taken there fails a bind too).
 */
export function listeningPorts(tcp: readonly string[], udp: readonly string[]): Set<string> {
  const out = new Set<string>();
  const scan = (texts: readonly string[], proto: string, wanted: (state: string) => boolean) => {
    for (const text of texts) {
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        const local = f[1];
        if (!local || !wanted(f[3] ?? '')) continue;
        const port = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
        if (port > 0) out.add(`${port}/${proto}`);
      }
    }
  };
  scan(tcp, 'tcp', (s) => s === '0A');
  scan(udp, 'udp', () => true);
  return out;
}
