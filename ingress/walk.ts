// A packet walker for the tests: it reads a rendered table and follows one packet through its hooks
// the way netfilter would (nat before filter, prerouting/output, then input/forward, postrouting),
// returning where it ends: DNATed (to which candidates), masqueraded, rejected, or untouched.
//
// It understands exactly the statements model.ts emits and throws on anything else, so a renderer
// change it does not know cannot pass unnoticed. It is a reading of the text, not of the model's
// data, which is what makes it a second opinion on the golden files. Test code; no I/O.

export interface SamplePacket {
  /** `incoming` arrives from an interface (prerouting); `local` is sent by this namespace (output). */
  origin: 'incoming' | 'local';
  daddr: string;
  protocol: 'tcp' | 'udp';
  dport: number;
  /** Whether daddr is one of this namespace's addresses (what `fib daddr type local` asks). */
  localDestination: boolean;
  /** The client's address, when the test cares which source the backend will see. */
  saddr?: string;
}

export interface WalkResult {
  /** Every destination the DNAT may pick (`numgen` alternatives), as `addr` or `addr:port`. */
  dnat?: string[];
  masquerade: boolean;
  rejected?: 'tcp-reset' | 'icmp-port-unreachable';
  /** The `ct timeout` object attached to the connection, if any. */
  ctTimeout?: string;
  /** Only when the packet had a saddr: the source the backend sees (`masqueraded` or saddr kept). */
  source?: string;
}

interface Chain {
  hook?: string;
  type?: string;
  priority?: number;
  rules: string[];
}

interface Parsed {
  maps: Map<string, Map<string, string>>;
  sets: Map<string, Set<string>>;
  chains: Map<string, Chain>;
}

function elementsOf(body: string): string[] {
  const m = /elements = \{([^}]*)\}/.exec(body);
  return m
    ? m[1]
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean)
    : [];
}

/** Parses the `table ip NAME { ... }` block of rendered text. */
function parseTable(text: string): Parsed {
  const parsed: Parsed = { maps: new Map(), sets: new Map(), chains: new Map() };
  const body = text.slice(text.indexOf('{') + 1, text.lastIndexOf('}'));
  const blocks = /\t(map|set|chain) (\S+) \{\n([\s\S]*?)\n\t\}/g;
  for (const [, kind, name, inner] of body.matchAll(blocks)) {
    if (kind === 'map') {
      // `key : goto chain` (verdict maps) or `key : value` (data maps); keys never hold ' : '.
      const pair = (e: string) => {
        const i = e.indexOf(' : ');
        return [e.slice(0, i), e.slice(i + 3).replace(/^goto /, '')] as [string, string];
      };
      parsed.maps.set(name, new Map(elementsOf(inner).map(pair)));
    } else if (kind === 'set') {
      parsed.sets.set(name, new Set(elementsOf(inner)));
    } else {
      const lines = inner
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      const head = /^type (\w+) hook (\w+) priority (-?\d+); policy accept;$/.exec(lines[0] ?? '');
      parsed.chains.set(name, {
        ...(head ? { type: head[1], hook: head[2], priority: Number(head[3]) } : {}),
        rules: head ? lines.slice(1) : lines,
      });
    }
  }
  return parsed;
}

interface State {
  packet: SamplePacket;
  daddr: string;
  dport: number;
  mark: number;
  result: WalkResult;
}

type Outcome = 'continue' | 'stop';

function keyFor(selector: string, s: State): string {
  if (selector === 'meta l4proto . th dport') return `${s.packet.protocol} . ${s.dport}`;
  if (selector === 'ip daddr') return s.daddr;
  throw new Error(`walker: unknown selector '${selector}'`);
}

/** Strips and checks leading match expressions; returns the rest, or undefined if one fails. */
function matches(rule: string, s: State): string | undefined {
  let rest = rule;
  for (;;) {
    let m: RegExpExecArray | null;
    if (rest.startsWith('fib daddr type local ')) {
      if (!s.packet.localDestination) return undefined;
      rest = rest.slice('fib daddr type local '.length);
    } else if (rest.startsWith('ip daddr != 127.0.0.0/8 ')) {
      if (s.daddr.startsWith('127.')) return undefined;
      rest = rest.slice('ip daddr != 127.0.0.0/8 '.length);
    } else if ((m = /^meta l4proto (tcp|udp) /.exec(rest))) {
      if (s.packet.protocol !== m[1]) return undefined;
      rest = rest.slice(m[0].length);
    } else if (rest.startsWith('ct state new ')) {
      // Sample packets are always a connection's first packet.
      rest = rest.slice('ct state new '.length);
    } else if ((m = /^th dport (\d+) /.exec(rest))) {
      if (s.dport !== Number(m[1])) return undefined;
      rest = rest.slice(m[0].length);
    } else if ((m = /^meta mark & (0x[0-9a-f]+) == (0x[0-9a-f]+) /.exec(rest))) {
      if ((s.mark & Number(m[1])) !== Number(m[2])) return undefined;
      rest = rest.slice(m[0].length);
    } else {
      return rest;
    }
  }
}

function dnat(target: string, s: State): void {
  const numgen = /^numgen random mod (\d+) map \{ (.*) \}$/.exec(target);
  const picks = numgen ? numgen[2].split(', ').map((e) => e.split(' : ')[1].replace(' . ', ':')) : [target];
  if (numgen && picks.length !== Number(numgen[1]))
    throw new Error(`walker: mod ${numgen[1]} over ${picks.length}`);
  s.result.dnat = picks;
  // Follow the first pick; every pick has the same shape.
  const [addr, port] = picks[0].split(':');
  s.daddr = addr;
  if (port !== undefined) s.dport = Number(port);
}

function runChain(p: Parsed, name: string, s: State, depth = 0): Outcome {
  const chain = p.chains.get(name);
  if (!chain) throw new Error(`walker: no chain ${name}`);
  if (depth > 8) throw new Error('walker: chain loop');
  for (const rule of chain.rules) {
    const action = matches(rule, s);
    if (action === undefined) continue;
    let m: RegExpExecArray | null;
    if ((m = /^(.+) vmap @(\S+)$/.exec(action))) {
      const target = p.maps.get(m[2])?.get(keyFor(m[1], s));
      if (target) return runChain(p, target, s, depth + 1);
    } else if ((m = /^(.+) @(\S+) goto (\S+)$/.exec(action))) {
      if (p.sets.get(m[2])?.has(keyFor(m[1], s))) return runChain(p, m[3], s, depth + 1);
    } else if ((m = /^goto (\S+)$/.exec(action))) {
      return runChain(p, m[1], s, depth + 1);
    } else if ((m = /^meta mark set meta mark \| (0x[0-9a-f]+)$/.exec(action))) {
      s.mark |= Number(m[1]);
    } else if ((m = /^meta mark set meta mark \^ (0x[0-9a-f]+) masquerade$/.exec(action))) {
      s.mark ^= Number(m[1]);
      s.result.masquerade = true;
      return 'stop';
    } else if ((m = /^dnat (?:ip )?to (.+)$/.exec(action))) {
      dnat(m[1], s);
      return 'stop';
    } else if ((m = /^ct timeout set "(\S+)"$/.exec(action))) {
      s.result.ctTimeout = m[1];
    } else if (action === 'reject with tcp reset') {
      s.result.rejected = 'tcp-reset';
      return 'stop';
    } else if (action === 'reject') {
      s.result.rejected = 'icmp-port-unreachable';
      return 'stop';
    } else {
      throw new Error(`walker: unknown statement '${action}' in ${name}`);
    }
  }
  return 'continue';
}

function hookChains(
  p: Parsed,
  type: string,
  hook: string,
  at: (prio: number) => boolean = () => true,
): string[] {
  return [...p.chains]
    .filter(([, c]) => c.type === type && c.hook === hook && at(c.priority!))
    .sort(([, a], [, b]) => a.priority! - b.priority!)
    .map(([name]) => name);
}

/** Follows one packet through the table's hooks in netfilter order. */
export function walk(text: string, packet: SamplePacket): WalkResult {
  const p = parseTable(text);
  const s: State = {
    packet,
    daddr: packet.daddr,
    dport: packet.dport,
    mark: 0,
    result: { masquerade: false },
  };
  const first = packet.origin === 'incoming' ? 'prerouting' : 'output';
  const NAT = -100;
  // Filter chains hooked before NAT (the idle timeouts) see the packet first.
  for (const c of hookChains(p, 'filter', first, (prio) => prio < NAT)) runChain(p, c, s);
  for (const c of hookChains(p, 'nat', first)) runChain(p, c, s);
  // After DNAT the destination is local again only if it was and the DNAT kept it (never here).
  const local = packet.localDestination && s.result.dnat === undefined;
  const filterHook = packet.origin === 'local' ? 'output' : local ? 'input' : 'forward';
  const view: State = { ...s, packet: { ...packet, localDestination: local } };
  const afterNat = (prio: number) => filterHook !== 'output' || prio >= NAT;
  for (const c of hookChains(p, 'filter', filterHook, afterNat)) {
    if (runChain(p, c, view) === 'stop' && view.result.rejected) return view.result;
  }
  if (!local) for (const c of hookChains(p, 'nat', 'postrouting')) runChain(p, c, s);
  if (packet.saddr !== undefined) s.result.source = s.result.masquerade ? 'masqueraded' : packet.saddr;
  return s.result;
}

export interface ReturnWalk {
  /** The ct mark a new connection gets from the frame's source MAC (0: none). */
  ctMark: number;
  /** The packet mark its replies leave with, after the route chain (0: none, main table). */
  replyMark: number;
}

/**
 * Follows a new connection through a `<prefix>_return` table: the frame from `ethSaddr` through the
 * prerouting filter chains, then one of its replies through the output route chains. Throws on any
 * statement return-path.ts does not emit.
 */
export function walkReturn(text: string, frame: { ethSaddr: string }): ReturnWalk {
  const p = parseTable(text);
  const out: ReturnWalk = { ctMark: 0, replyMark: 0 };
  for (const name of hookChains(p, 'filter', 'prerouting')) {
    for (const rule of p.chains.get(name)!.rules) {
      const m = /^ct state new ct mark set ether saddr map @(\S+)$/.exec(rule);
      if (!m) throw new Error(`walker: unknown statement '${rule}' in ${name}`);
      const mark = p.maps.get(m[1])?.get(frame.ethSaddr);
      if (mark !== undefined) out.ctMark = Number(mark);
    }
  }
  for (const name of hookChains(p, 'route', 'output')) {
    for (const rule of p.chains.get(name)!.rules) {
      const m = /^ct mark & (0x[0-9a-f]+) == (0x[0-9a-f]+) meta mark set ct mark$/.exec(rule);
      if (!m) throw new Error(`walker: unknown statement '${rule}' in ${name}`);
      if ((out.ctMark & Number(m[1])) >>> 0 === Number(m[2])) out.replyMark = out.ctMark;
    }
  }
  return out;
}
