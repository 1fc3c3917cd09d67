// The encrypted overlays' data path (`--opt encrypted`), planned as a pure function: from this node's
// VTEP, the VNIs of its encrypted networks, the VTEPs of the nodes with tasks on them and the managers'
// key set, to IPsec ESP in transport mode between each VTEP pair, on the kernel's VXLAN (udp/4789):
//
// - SAs (`ip xfrm state`): per remote VTEP and per key the node accepts, one each way, with the SPI and
//   per-pair key every node derives alike (esp-keys.ts);
// - one outbound policy per remote VTEP, for udp/4789 packets carrying this daemon's mark, whose template
//   names the primary key's SPI: switching keys is one `policy update` per peer;
// - a catch-all outbound policy (lower priority) that blocks marked packets to any VTEP without its own
//   policy yet: an encrypted network never leaks in the clear, it waits for its keys;
// - nftables (`table inet <prefix>_esp`): the mark set on outgoing VXLAN of the encrypted VNIs (a route
//   chain, so the xfrm lookup is redone with it), and incoming VXLAN of those VNIs that did not arrive
//   through ESP dropped.
//
// A rotation (manager/overlay-keys.ts) arrives as three key sets, and each plans one step: (1) a new key
// is added: its SAs both ways; (2) it becomes the primary: the policies switch to its SPIs; (3) the old
// key goes: its SAs are deleted. Every node has installed a key's inbound SAs before any node sends with
// it, so no packet meets a peer without its SA.
import { NODE, ip, ipDel } from './commands.js';
import { espMark, espPairKey, espReqid, espSpi, spiHex, type EspKey, type EspKeySet } from './esp-keys.js';
import { VXLAN_PORT } from './names.js';
import type { Command, OverlayDesiredState, Step } from './types.js';

/** What the ESP plan is made from (espDesired takes it out of the overlay's desired state). */
export interface EspDesired {
  vtep: string;
  /** VNIs of the encrypted networks this node has tasks on, ascending. */
  vnis: number[];
  /** VTEPs of the nodes with tasks on those networks, this node's left out, ascending. */
  remotes: string[];
  /** Undefined: not received yet (the networks stay blocked until it comes). */
  keys?: EspKeySet;
}

/** An SA as `ip xfrm state` lists it; only ESP ones with this daemon's reqid are its own. */
export interface ObservedXfrmState {
  src: string;
  dst: string;
  proto: string;
  spi: number;
  reqid: number;
}

/** A policy as `ip xfrm policy` lists it; only those with this daemon's mark are its own. */
export interface ObservedXfrmPolicy {
  /** CIDRs of the selector. */
  src: string;
  dst: string;
  dir: string;
  priority: number;
  action: 'allow' | 'block';
  mark?: number;
  /** The template's SPI (absent: no template). */
  tmplSpi?: number;
}

export interface ObservedEsp {
  states: ObservedXfrmState[];
  policies: ObservedXfrmPolicy[];
  /** What `table inet <prefix>_esp` does (espTableSignature, parseEspTable); undefined: no such table. */
  tableSignature?: string;
}

const AEAD = 'rfc4106(gcm(aes))';
const PEER_PRIORITY = 100;
const CATCH_ALL_PRIORITY = 1000;
const ANY = '0.0.0.0/0';

export const espTableName = (prefix: string): string => `${prefix}_esp`;

/** The ESP part of the overlay's desired state. */
export function espDesired(desired: OverlayDesiredState): EspDesired {
  const encrypted = desired.networks.filter((n) => n.encrypted);
  const ids = new Set(encrypted.map((n) => n.id));
  const remotes = new Set(
    desired.peers.filter((p) => ids.has(p.networkId) && p.vtep !== desired.vtep).map((p) => p.vtep),
  );
  return {
    vtep: desired.vtep,
    vnis: encrypted.map((n) => n.vni).sort((a, b) => a - b),
    remotes: [...remotes].sort(),
    ...(desired.esp ? { keys: desired.esp } : {}),
  };
}

/**
 * What the table does, in the words parseEspTable reads back from `nft -j`: which VNIs' VXLAN is marked
 * with which mark on the way out, and which is dropped on the way in unless it came through ESP. A
 * different one means the table is rewritten.
 */
export function espTableSignature(mark: number, vnis: readonly number[]): string {
  return `out vnis=${vnis.join(',')} mark=0x${mark.toString(16)}; in vnis=${vnis.join(',')} drop-without-ipsec`;
}

function espRuleset(prefix: string, vnis: readonly number[]): string {
  const table = espTableName(prefix);
  const set = `{ ${vnis.join(', ')} }`;
  // @th,96,24: the VNI, 32 bits into the VXLAN header that follows the 8-byte UDP header.
  const vxlan = `udp dport ${VXLAN_PORT} @th,96,24 ${set}`;
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    `  chain output {`,
    `    type route hook output priority mangle; policy accept;`,
    `    ${vxlan} meta mark set 0x${espMark(prefix).toString(16)}`,
    `  }`,
    `  chain input {`,
    `    type filter hook input priority filter; policy accept;`,
    `    ${vxlan} meta ipsec missing drop`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

const nft = (args: string[], input?: string): Command => ({ tool: 'nft', where: NODE, args, input });

function stateAdd(prefix: string, key: EspKey, src: string, dst: string): Command {
  return ip(
    NODE,
    ...['xfrm', 'state', 'add', 'src', src, 'dst', dst, 'proto', 'esp'],
    ...['spi', spiHex(espSpi(key, src, dst)), 'reqid', String(espReqid(prefix)), 'mode', 'transport'],
    ...['aead', AEAD, `0x${espPairKey(key, src, dst).toString('hex')}`, '128'],
  );
}

const stateDelete = (s: ObservedXfrmState): Command =>
  ipDel(NODE, 'xfrm', 'state', 'delete', 'src', s.src, 'dst', s.dst, 'proto', 'esp', 'spi', spiHex(s.spi));

/**
 * The selector every policy of this daemon shares but for the addresses. UDP by number: `ip` turns a
 * selector's protocol name into a number through /etc/protocols, which a minimal Debian (no netbase,
 * as the VM lab's image) lacks, and then refuses "udp"; the number needs no file. The kernel lists it
 * back as "proto 17" or "proto udp", depending on the same file.
 */
const IPPROTO_UDP = '17';
const selector = (prefix: string, src: string, dst: string) => [
  ...['src', src, 'dst', dst, 'proto', IPPROTO_UDP, 'dport', String(VXLAN_PORT), 'dir', 'out'],
  ...['mark', `0x${espMark(prefix).toString(16)}`, 'mask', '0xffffffff'],
];

function peerPolicy(prefix: string, vtep: string, remote: string, spi: number): Command {
  return ip(
    NODE,
    ...['xfrm', 'policy', 'update', ...selector(prefix, `${vtep}/32`, `${remote}/32`)],
    ...['priority', String(PEER_PRIORITY), 'tmpl', 'src', vtep, 'dst', remote, 'proto', 'esp'],
    ...['spi', spiHex(spi), 'reqid', String(espReqid(prefix)), 'mode', 'transport'],
  );
}

const catchAllPolicy = (prefix: string): Command =>
  ip(
    NODE,
    ...['xfrm', 'policy', 'update', ...selector(prefix, ANY, ANY)],
    ...['priority', String(CATCH_ALL_PRIORITY), 'action', 'block'],
  );

const policyDelete = (prefix: string, p: ObservedXfrmPolicy): Command =>
  ipDel(NODE, 'xfrm', 'policy', 'delete', ...selector(prefix, p.src, p.dst));

const stateKey = (src: string, dst: string, spi: number) => `${src}>${dst}#${spi}`;

/** The steps from what the kernel has to what `d` asks for, in an order that never sends in the clear. */
export function planEsp(prefix: string, d: EspDesired, observed: ObservedEsp): Step[] {
  const reqid = espReqid(prefix);
  const mark = espMark(prefix);
  const states = observed.states.filter((s) => s.proto === 'esp' && s.reqid === reqid);
  const policies = observed.policies.filter((p) => p.mark === mark && p.dir === 'out');
  const active = d.vnis.length > 0;
  const keys = active ? (d.keys?.keys ?? []) : [];
  const primary = keys.find((k) => k.id === d.keys?.primary);
  const remotes = active ? d.remotes : [];
  const steps: Step[] = [];

  // 1. SAs first, both ways, for every accepted key: a peer may send with any of them.
  const haveStates = new Set(states.map((s) => stateKey(s.src, s.dst, s.spi)));
  const wantStates = new Set<string>();
  for (const remote of remotes) {
    const commands: Command[] = [];
    for (const key of keys) {
      for (const [src, dst] of [
        [d.vtep, remote],
        [remote, d.vtep],
      ] as const) {
        const k = stateKey(src, dst, espSpi(key, src, dst));
        wantStates.add(k);
        if (!haveStates.has(k)) commands.push(stateAdd(prefix, key, src, dst));
      }
    }
    if (commands.length > 0)
      steps.push({ why: `ESP SAs with ${remote} (keys ${keys.map((k) => k.id).join(',')})`, commands });
  }

  // 2. The catch-all before anything is marked: marked packets without a peer policy are dropped.
  const catchAll = policies.find((p) => p.src === ANY && p.dst === ANY);
  if (active && !(catchAll && catchAll.action === 'block' && catchAll.priority === CATCH_ALL_PRIORITY))
    steps.push({
      why: 'ESP: block encrypted-network VXLAN to nodes without SAs',
      commands: [catchAllPolicy(prefix)],
      required: true,
    });

  // 3. Each peer's policy sends with the primary key (added, or switched in place on a rotation).
  const wantPolicies = new Set<string>();
  for (const remote of primary ? remotes : []) {
    const spi = espSpi(primary!, d.vtep, remote);
    wantPolicies.add(`${d.vtep}/32>${remote}/32`);
    const have = policies.find((p) => p.src === `${d.vtep}/32` && p.dst === `${remote}/32`);
    if (have?.tmplSpi === spi && have.action === 'allow' && have.priority === PEER_PRIORITY) continue;
    steps.push({
      why: `ESP: send to ${remote} with key ${primary!.id}`,
      commands: [peerPolicy(prefix, d.vtep, remote, spi)],
    });
  }

  // 4. Marking and the inbound drop, rewritten whole when the VNIs change.
  if (active && observed.tableSignature !== espTableSignature(mark, d.vnis))
    steps.push({
      why: `ESP: mark and require ESP for VXLAN of VNI ${d.vnis.join(',')}`,
      commands: [nft(['-f', '-'], espRuleset(prefix, d.vnis))],
    });
  if (!active && observed.tableSignature !== undefined)
    steps.push({
      why: 'ESP: no encrypted network here any more',
      commands: [{ ...nft(['delete', 'table', 'inet', espTableName(prefix)]), okIfAbsent: true }],
    });

  // 5. Then what is no longer wanted: policies (peers gone), the catch-all, and SAs (keys retired).
  // The catch-all goes last: it is the safety net while peer policies are taken down.
  const isAny = (p: ObservedXfrmPolicy) => p.src === ANY && p.dst === ANY;
  for (const p of [...policies].sort((x, y) => Number(isAny(x)) - Number(isAny(y)))) {
    const isCatchAll = isAny(p);
    if (isCatchAll ? active : wantPolicies.has(`${p.src}>${p.dst}`)) continue;
    steps.push({
      why: isCatchAll
        ? 'ESP: remove the catch-all block'
        : `ESP: stop sending to ${p.dst.replace(/\/32$/, '')}`,
      commands: [policyDelete(prefix, p)],
    });
  }
  const stale = states.filter((s) => !wantStates.has(stateKey(s.src, s.dst, s.spi)));
  if (stale.length > 0)
    steps.push({ why: `ESP: remove ${stale.length} SA(s) no longer used`, commands: stale.map(stateDelete) });
  return steps;
}
