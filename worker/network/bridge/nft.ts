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
import { cmd, NODE, type Command } from '../commands.js';
import type { TableNetwork } from './types.js';

const q = (name: string) => JSON.stringify(name);

export function renderTable(table: string, networks: readonly TableNetwork[]): string {
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
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

/** The whole table as one transaction (an empty network list removes it). */
export const syncTable = (table: string, networks: readonly TableNetwork[]): Command => ({
  ...cmd('nft', NODE, '-f', '-'),
  input: renderTable(table, networks),
});
