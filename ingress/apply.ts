// The applier: the thin shell that puts rendered tables into the kernel with `nft -f`.
//
// A table is always replaced whole, in one transaction. The rendered text starts with
//     add table ip T ; delete table ip T ; table ip T { ... }
// `add` is a no-op when T exists and creates it when not, so the `delete` can never fail; nft -f
// sends the file as one netlink batch that the kernel commits all or nothing. Packets see either the
// old table or the new one, never a half-built one, and a failed apply leaves the old one in place.
// (`flush table` would keep chains and maps of services that are gone; delete-and-define does not.)
// Conntrack holds the NAT of established connections outside the table, so they survive a replace.
//
// Only the mesh's own tables (names.ts) are ever written, deleted or read. Syncs of one table in one
// namespace are serialized and coalesced: while one runs, later requests collapse into the newest,
// applied when it ends and no sooner than `minIntervalMs` after it (the rate limit); text equal to
// what was last applied is skipped.
import { findTool, run } from '../lib/exec.js';
import { ownsTable, assertPrefix } from './names.js';
import type { RenderedTable } from './types.js';

/** Where a table lives: the daemon's own namespace, a named one (`ip netns`), or a path (a task's). */
export type Namespace = { kind: 'own' } | { kind: 'named'; name: string } | { kind: 'path'; path: string };

export const OWN_NAMESPACE: Namespace = { kind: 'own' };

function nsKey(ns: Namespace): string {
  return ns.kind === 'own' ? 'own' : ns.kind === 'named' ? `named:${ns.name}` : `path:${ns.path}`;
}

/** Runs a tool in a namespace (task namespaces are paths, entered with nsenter as the overlay does). */
export function inNamespace(ns: Namespace, tool: string, args: string[], input?: string): Promise<string> {
  if (ns.kind === 'own') return run(tool, args, { input });
  if (ns.kind === 'named') return run(tool, args, { input, netns: ns.name });
  return run('nsenter', [`--net=${ns.path}`, findTool(tool), ...args], { input });
}

const nft = (ns: Namespace, args: string[], input?: string) => inNamespace(ns, 'nft', args, input);

/**
 * Refuses text that declares any table but `name`: the applier's promise never to touch another
 * owner's table must not depend on the renderer being right.
 */
export function assertOnlyTable(table: RenderedTable): void {
  for (const line of table.text.split('\n')) {
    const m = /^\s*(?:(add|delete|flush)\s+)?table\s+(\S+)\s+(\S+)/.exec(line);
    if (m && (m[2] !== 'ip' || m[3] !== table.name)) {
      throw new Error(`ruleset for ${table.name} also names table ${m[2]} ${m[3]}`);
    }
  }
}

interface Slot {
  /** Text the kernel has (as far as this process knows), to skip unchanged syncs. */
  applied?: string;
  running?: Promise<void>;
  pending?: { text: string; waiters: { resolve: () => void; reject: (e: unknown) => void }[] };
  lastEnd: number;
}

export interface ApplierOptions {
  prefix: string;
  /** Least time between two applies of the same table in the same namespace. */
  minIntervalMs?: number;
}

export class MeshApplier {
  readonly prefix: string;
  private readonly minIntervalMs: number;
  private readonly slots = new Map<string, Slot>();
  /** Count of `nft -f` runs, for tests and the bench. */
  applies = 0;

  constructor(opts: ApplierOptions) {
    assertPrefix(opts.prefix);
    this.prefix = opts.prefix;
    this.minIntervalMs = opts.minIntervalMs ?? 100;
  }

  private assertOwned(name: string): void {
    if (!ownsTable(this.prefix, name))
      throw new Error(`table ${name} is not one of ${this.prefix}'s mesh tables`);
  }

  /**
   * Makes the kernel hold `table` in `ns`. Resolves once that text (or a newer one for the same
   * table, requested meanwhile) is in place; rejects if that apply failed.
   */
  apply(table: RenderedTable, ns: Namespace = OWN_NAMESPACE): Promise<void> {
    this.assertOwned(table.name);
    assertOnlyTable(table);
    const key = `${nsKey(ns)}|${table.name}`;
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { lastEnd: 0 }));
    if (!slot.running && !slot.pending && slot.applied === table.text) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => {
      const s = slot;
      if (s.pending) {
        s.pending.text = table.text;
        s.pending.waiters.push({ resolve, reject });
      } else {
        s.pending = { text: table.text, waiters: [{ resolve, reject }] };
      }
    });
    if (!slot.running) slot.running = this.drain(slot, ns);
    return done;
  }

  private async drain(slot: Slot, ns: Namespace): Promise<void> {
    while (slot.pending) {
      const wait = slot.lastEnd + this.minIntervalMs - Date.now();
      if (wait > 0 && slot.lastEnd > 0) await new Promise((r) => setTimeout(r, wait));
      const { text, waiters } = slot.pending;
      slot.pending = undefined;
      try {
        if (slot.applied !== text) {
          this.applies++;
          await nft(ns, ['-f', '-'], text);
          slot.applied = text;
        }
        for (const w of waiters) w.resolve();
      } catch (err) {
        // Unknown kernel state now (the batch was refused, so most likely the old table): the next
        // sync must not be skipped as unchanged.
        slot.applied = undefined;
        for (const w of waiters) w.reject(err);
      }
      slot.lastEnd = Date.now();
    }
    slot.running = undefined;
  }

  /** The mesh tables of this prefix present in `ns`. */
  async listOwned(ns: Namespace = OWN_NAMESPACE): Promise<string[]> {
    const out = await nft(ns, ['-j', 'list', 'tables', 'ip']);
    return parseTableNames(out).filter((name) => ownsTable(this.prefix, name));
  }

  /** Deletes one mesh table from `ns` if present. */
  async remove(name: string, ns: Namespace = OWN_NAMESPACE): Promise<void> {
    this.assertOwned(name);
    // An apply of this table still running would otherwise land after the delete and revive it.
    const key = `${nsKey(ns)}|${name}`;
    for (let slot = this.slots.get(key); slot?.running; slot = this.slots.get(key)) {
      await slot.running;
    }
    // Same trick as apply: `add` first so the delete succeeds whether or not the table exists.
    await nft(ns, ['-f', '-'], `add table ip ${name}\ndelete table ip ${name}\n`);
    this.slots.delete(key);
  }

  /**
   * Drops what this applier remembers about `ns` (or every namespace): call it when a task's
   * namespace is gone, and before a periodic full resync, so that a table someone else deleted or
   * changed is written again instead of skipped as unchanged.
   */
  forget(ns?: Namespace): void {
    const head = ns === undefined ? '' : `${nsKey(ns)}|`;
    for (const [key, slot] of this.slots) {
      if (key.startsWith(head) && !slot.running) this.slots.delete(key);
    }
  }

  /** Deletes every mesh table of this prefix in `ns`, and nothing else; returns their names. */
  async removeAll(ns: Namespace = OWN_NAMESPACE): Promise<string[]> {
    const names = await this.listOwned(ns);
    for (const name of names) await this.remove(name, ns);
    return names;
  }

  /** The kernel's view of one mesh table (`nft -j list table`), or undefined when absent. */
  async inspect(name: string, ns: Namespace = OWN_NAMESPACE): Promise<unknown[] | undefined> {
    this.assertOwned(name);
    if (!(await this.listOwned(ns)).includes(name)) return undefined;
    const out = await nft(ns, ['-j', 'list', 'table', 'ip', name]);
    return (JSON.parse(out) as { nftables: unknown[] }).nftables;
  }
}

/** Table names in `nft -j list tables` output. */
function parseTableNames(json: string): string[] {
  const doc = JSON.parse(json) as { nftables?: { table?: { family: string; name: string } }[] };
  return (doc.nftables ?? []).flatMap((item) => (item.table ? [item.table.name] : []));
}
