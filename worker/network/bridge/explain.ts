// What the node programmed for one bridge network, read back from the kernel (`network inspect -v`):
// the Linux bridge, the node's ends of its veths with the container each leads into (`brctl show`),
// and the rules of the driver's nftables table that concern this network (`iptables -t nat -L`).
// Pure: the shell (driver.ts programmed) hands in `ip -d -j addr show` parsed and `nft list table` as
// text, so tests feed captured output.
import { parseAddress, parseCidr, containsAddress } from '../../../lib/ipv4.js';
import { parseBridgeLabel, parseLegLabel } from './names.js';
import type { ObservedLink } from './types.js';

export interface ExplainInput {
  /** The daemon's prefix: whose labels count. */
  owner: string;
  networkId: string;
  /** The bridge's name as the driver names it (names.ts bridgeName). */
  bridge: string;
  subnets: string[];
  links: ObservedLink[];
  /** The table's name and `nft list table inet <table>` as printed ('' when there is none). */
  table: string;
  ruleset: string;
  /** Who an endpoint belongs to: the containers of this network, by endpoint id. */
  containers: ReadonlyMap<string, { id: string; name: string }>;
}

export interface ProgrammedVeth {
  HostInterface: string;
  /** The bridge the node's end is a port of ('' when none: a broken leg). */
  Master: string;
  Up: boolean;
  EndpointId: string;
  /** null: a leg of this network no container of the node claims (a leftover). */
  Container: { Id: string; Name: string } | null;
  /** The container's end, as the leg was made. */
  ContainerInterface: string;
  ContainerAddress: string;
}

export interface ProgrammedBridge {
  Bridge: { Name: string; Present: boolean; Up: boolean; Mtu: number; Addresses: string[] };
  Veths: ProgrammedVeth[];
  Nftables: { Table: string; Rules: { Chain: string; Rule: string }[] };
}

/** Rules of an `nft list table` printout, with the chain each is in (sets and chain headers left out). */
export function parseNftRules(text: string): { chain: string; rule: string }[] {
  const out: { chain: string; rule: string }[] = [];
  let chain: string | undefined;
  let depth = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.endsWith('{')) {
      depth++;
      const m = /^chain (\S+) \{$/.exec(line);
      if (m && depth === 2) chain = m[1];
      continue;
    }
    if (line === '}') {
      if (depth === 2) chain = undefined;
      depth--;
      continue;
    }
    // Inside a chain, at its own level: a rule, unless it is the chain's hook line.
    if (chain !== undefined && depth === 2 && !/^type \S+ hook /.test(line)) out.push({ chain, rule: line });
  }
  return out;
}

/** A rule concerns the network when it names its bridge or a subnet of it, or DNATs to an address in one. */
function concerns(rule: string, bridge: string, subnets: string[]): boolean {
  if (rule.includes(JSON.stringify(bridge))) return true;
  if (subnets.some((s) => new RegExp(`(^|\\s)${s.replace(/\./g, '\\.')}(\\s|$)`).test(rule))) return true;
  const m = /\bdnat (?:ip )?to (\d+\.\d+\.\d+\.\d+)/.exec(rule);
  if (!m) return false;
  const addr = parseAddress(m[1]!);
  return (
    typeof addr === 'number' &&
    subnets.some((s) => {
      const c = parseCidr(s);
      return typeof c !== 'string' && containsAddress(c, addr);
    })
  );
}

export function explainBridge(input: ExplainInput): ProgrammedBridge {
  const dev = input.links.find(
    (l) => l.ifName === input.bridge && parseBridgeLabel(input.owner, l.alias) === input.networkId,
  );
  const veths: ProgrammedVeth[] = input.links
    .flatMap((l) => {
      const leg = parseLegLabel(input.owner, l.alias);
      return leg && leg.networkId === input.networkId ? [{ l, leg }] : [];
    })
    .map(({ l, leg }) => {
      const c = input.containers.get(leg.endpointId);
      return {
        HostInterface: l.ifName,
        Master: l.master ?? '',
        Up: l.up,
        EndpointId: leg.endpointId,
        Container: c ? { Id: c.id, Name: c.name } : null,
        ContainerInterface: leg.ifName,
        ContainerAddress: leg.address,
      };
    })
    .sort((a, b) => a.HostInterface.localeCompare(b.HostInterface));
  return {
    Bridge: {
      Name: input.bridge,
      Present: dev !== undefined,
      Up: dev?.up ?? false,
      Mtu: dev?.mtu ?? 0,
      Addresses: dev?.addresses ?? [],
    },
    Veths: veths,
    Nftables: {
      Table: input.table,
      Rules: parseNftRules(input.ruleset)
        .filter((r) => concerns(r.rule, input.bridge, input.subnets))
        .map((r) => ({ Chain: r.chain, Rule: r.rule })),
    },
  };
}
