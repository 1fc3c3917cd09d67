// The bridge driver's nftables table, one per daemon (`inet <prefix>_bridge`), rendered from every
// bridge network the driver has and replaced whole in one `nft -f` transaction (create, delete, define:
// the first line makes the delete safe when the table does not exist yet), so no packet ever sees half
// a ruleset.
//
// forward (filter, priority 0):
//   - an --internal bridge: nothing leaves it for another interface, nothing enters it from one;
//   - isolation: nothing goes from one bridge network to another (Docker's DOCKER-ISOLATION chains);
//   - into a bridge from elsewhere only replies (and DNATed flows, published ports' way in);
// postrouting (nat, priority 100): what leaves a non-internal network's subnet for another interface
// is masqueraded to the node's address there.
//
// Published ports (-p): DNAT in prerouting (from other hosts, and from containers: hairpin) and in
// output (connections the node itself makes), priority -100, to any local address (`fib daddr type
// local`) or to the one given (`-p 198.18.0.11:8080:80`); no userland proxy. Two masquerades make the
// replies come back the way the request went: a container reaching a published port on its own bridge
// (the DNATed flow leaves by the bridge it came in on) and the node reaching it from 127.0.0.1 (which
// also needs route_localnet on the bridge, set when the bridge is made).
import { cmd, NODE, type Command } from '../commands.js';
import type { PublishedPort, TableNetwork } from './types.js';

const q = (name: string) => JSON.stringify(name);

export function renderTable(
  table: string,
  networks: readonly TableNetwork[],
  published: readonly PublishedPort[] = [],
): string {
  const sorted = [...networks].sort((a, b) => a.bridge.localeCompare(b.bridge));
  const lines = [`table inet ${table} {}`, `delete table inet ${table}`];
  if (sorted.length === 0) return `${lines.join('\n')}\n`;
  lines.push(`table inet ${table} {`);
  lines.push(
    '  set bridges {',
    '    type ifname',
    `    elements = { ${sorted.map((n) => q(n.bridge)).join(', ')} }`,
    '  }',
  );
  lines.push('  chain forward {', '    type filter hook forward priority 0; policy accept;');
  for (const n of sorted.filter((x) => x.internal)) {
    lines.push(`    iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`);
    lines.push(`    oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
  }
  for (const n of sorted)
    lines.push(`    iifname ${q(n.bridge)} oifname @bridges oifname != ${q(n.bridge)} drop`);
  lines.push('    oifname @bridges ct state established,related accept');
  lines.push('    oifname @bridges ct status dnat accept');
  for (const n of sorted) lines.push(`    oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
  lines.push('  }');
  lines.push('  chain postrouting {', '    type nat hook postrouting priority 100; policy accept;');
  for (const n of sorted.filter((x) => !x.internal)) {
    for (const s of n.subnets) lines.push(`    ip saddr ${s} oifname != ${q(n.bridge)} masquerade`);
  }
  const publishing = sorted.filter((n) => published.some((p) => p.bridge === n.bridge));
  for (const n of publishing) {
    for (const s of n.subnets)
      lines.push(`    ip saddr ${s} oifname ${q(n.bridge)} ct status dnat masquerade`);
    lines.push(`    ip saddr 127.0.0.0/8 oifname ${q(n.bridge)} ct status dnat masquerade`);
  }
  lines.push('  }');
  if (published.length > 0) {
    const rules = [...published].sort(byPort).map(dnatRule);
    lines.push('  chain prerouting {', '    type nat hook prerouting priority -100; policy accept;');
    lines.push(...rules, '  }');
    lines.push('  chain output {', '    type nat hook output priority -100; policy accept;');
    lines.push(...rules, '  }');
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

const byPort = (a: PublishedPort, b: PublishedPort) =>
  a.port.protocol.localeCompare(b.port.protocol) ||
  a.port.hostPort - b.port.hostPort ||
  (a.port.hostIp ?? '').localeCompare(b.port.hostIp ?? '');

function dnatRule({ ip, port }: PublishedPort): string {
  const to = port.hostIp === undefined ? 'fib daddr type local' : `ip daddr ${port.hostIp}`;
  return `    ${to} ${port.protocol} dport ${port.hostPort} dnat ip to ${ip}:${port.containerPort}`;
}

/** The whole table as one transaction (an empty network list removes it). */
export const syncTable = (
  table: string,
  networks: readonly TableNetwork[],
  published: readonly PublishedPort[] = [],
): Command => ({
  ...cmd('nft', NODE, '-f', '-'),
  input: renderTable(table, networks, published),
});
