// Reading back what the ESP plan (plan-esp.ts) programs: `ip xfrm state` and `ip xfrm policy` (text:
// iproute2 has no JSON for xfrm) and `nft -j list table inet <prefix>_esp`. The parsers are pure.
import { isAbsentError } from '../../../lib/exec.js';
import { NODE, ip } from './commands.js';
import type { CommandRunner } from './observe.js';
import {
  espTableName,
  espTableSignature,
  type ObservedEsp,
  type ObservedXfrmPolicy,
  type ObservedXfrmState,
} from './plan-esp.js';

/** Blocks of a listing: a line at column 0 starts one, indented lines continue it. */
function blocks(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (/^\S/.test(line) || out.length === 0) out.push(line.trim());
    else out[out.length - 1] += ` ${line.trim()}`;
  }
  return out;
}

const word = (block: string, re: RegExp): string | undefined => re.exec(block)?.[1];

/** `ip xfrm state list`: each SA's addresses, protocol, SPI and reqid (keys are not needed: see espSpi). */
export function parseXfrmStates(text: string): ObservedXfrmState[] {
  return blocks(text).flatMap((b) => {
    const src = word(b, /^src (\S+)/);
    const dst = word(b, /^src \S+ dst (\S+)/);
    const proto = word(b, / proto (\S+)/);
    const spi = word(b, / spi (0x[0-9a-f]+)/);
    const reqid = word(b, / reqid (\d+)/);
    if (!src || !dst || !proto || !spi) return [];
    return [{ src, dst, proto, spi: Number(spi), reqid: Number(reqid ?? 0) }];
  });
}

/** `ip xfrm policy list`: selector addresses, direction, priority, action, mark and template SPI. */
export function parseXfrmPolicies(text: string): ObservedXfrmPolicy[] {
  return blocks(text).flatMap((b) => {
    const src = word(b, /^src (\S+)/);
    const dst = word(b, /^src \S+ dst (\S+)/);
    const dir = word(b, / dir (\S+)/);
    if (!src || !dst || !dir) return [];
    const mark = word(b, / mark (0x[0-9a-f]+)\/0xffffffff/);
    const tmplSpi = word(b, / tmpl .* spi (0x[0-9a-f]+)/);
    return [
      {
        src,
        dst,
        dir,
        priority: Number(word(b, / priority (\d+)/) ?? 0),
        action: word(b, / action (\S+)/) === 'block' ? 'block' : 'allow',
        ...(mark ? { mark: Number(mark) } : {}),
        ...(tmplSpi ? { tmplSpi: Number(tmplSpi) } : {}),
      } satisfies ObservedXfrmPolicy,
    ];
  });
}

interface NftExpr {
  match?: {
    left?: { payload?: { base?: string; offset?: number }; meta?: { key: string } };
    right?: unknown;
  };
  mangle?: { key?: { meta?: { key: string } }; value?: number };
  drop?: null;
}
interface NftObject {
  rule?: { chain: string; expr?: NftExpr[] };
}

/**
 * `nft -j list table inet <prefix>_esp` in the words of espTableSignature, so a table that does exactly
 * what the plan wants compares equal, and anything else (a hand edit, an older daemon's) does not.
 */
export function parseEspTable(json: string): string {
  const objects = (JSON.parse(json) as { nftables?: NftObject[] }).nftables ?? [];
  const vnisOf = (expr: NftExpr[]) => {
    const right = expr.find(
      (e) => e.match?.left?.payload?.base === 'th' && e.match.left.payload.offset === 96,
    )?.match?.right;
    const values = typeof right === 'number' ? [right] : ((right as { set?: number[] })?.set ?? []);
    return [...values].sort((a, b) => a - b);
  };
  const rules = objects.flatMap((o) => (o.rule ? [o.rule] : []));
  const out = rules.find((r) => r.chain === 'output')?.expr ?? [];
  const inn = rules.find((r) => r.chain === 'input')?.expr ?? [];
  const mark = out.find((e) => e.mangle?.key?.meta?.key === 'mark')?.mangle?.value ?? 0;
  const drops =
    inn.some((e) => e.match?.left?.meta?.key === 'ipsec' && e.match.right === false) &&
    inn.some((e) => 'drop' in e);
  const signature = espTableSignature(mark, vnisOf(out));
  const wanted = espTableSignature(mark, vnisOf(inn));
  // The inbound half must drop exactly the VNIs the outbound half marks.
  return drops && rules.length === 2 && wanted === signature
    ? signature
    : `unexpected: ${JSON.stringify(rules)}`;
}

/** What the kernel has of the ESP data path (every daemon's xfrm entries; the plan keeps its own). */
export async function observeEsp(exec: CommandRunner, prefix: string): Promise<ObservedEsp> {
  const [states, policies] = await Promise.all([
    exec(ip(NODE, 'xfrm', 'state', 'list')),
    exec(ip(NODE, 'xfrm', 'policy', 'list')),
  ]);
  let tableSignature: string | undefined;
  try {
    tableSignature = parseEspTable(
      await exec({ tool: 'nft', where: NODE, args: ['-j', 'list', 'table', 'inet', espTableName(prefix)] }),
    );
  } catch (err) {
    if (!isAbsentError(err)) throw err;
  }
  return {
    states: parseXfrmStates(states),
    policies: parseXfrmPolicies(policies),
    ...(tableSignature !== undefined ? { tableSignature } : {}),
  };
}
