// Reading the node's links back: `ip -d -j addr show` parsed into ObservedLink (pure, so tests feed it
// captured output).
import type { ObservedLink } from './types.js';

interface IpJsonLink {
  ifname?: string;
  ifalias?: string;
  master?: string;
  mtu?: number;
  flags?: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

export function parseLinks(json: string): ObservedLink[] {
  const parsed: unknown = JSON.parse(json.trim() === '' ? '[]' : json);
  if (!Array.isArray(parsed)) throw new Error('ip -j did not print a list');
  return (parsed as IpJsonLink[])
    .filter((l) => typeof l.ifname === 'string')
    .map((l) => ({
      ifName: l.ifname!,
      ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
      ...(l.ifalias ? { alias: l.ifalias } : {}),
      ...(l.master ? { master: l.master } : {}),
      mtu: l.mtu ?? 0,
      up: (l.flags ?? []).includes('UP'),
      addresses: (l.addr_info ?? [])
        .filter((a) => a.family === 'inet' && a.local !== undefined)
        .map((a) => `${a.local}/${a.prefixlen}`),
    }));
}

/**
 * The destinations of `ip -4 -j route show table all` as CIDRs: unicast routes only (not local or
 * broadcast entries, not the default route); a bare address is a /32.
 */
export function parseRouteSubnets(json: string): string[] {
  const parsed: unknown = JSON.parse(json.trim() === '' ? '[]' : json);
  if (!Array.isArray(parsed)) throw new Error('ip -j did not print a list');
  const out = new Set<string>();
  for (const r of parsed as { dst?: string; type?: string }[]) {
    if (typeof r.dst !== 'string' || r.dst === 'default') continue;
    if (r.type !== undefined && r.type !== 'unicast') continue;
    out.add(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
  }
  return [...out].sort();
}
