// The entry store and its merge rule. Every entry is owned by the node that wrote it; writes carry
// the owner's Lamport time, so "newer" is well defined without clocks: higher ltime wins, and two
// writers racing on one key with the same ltime are ordered by owner id (an arbitrary but global
// order, so every node picks the same winner). Deletes are tombstones that keep their ltime for
// `reapMs`, so a stale create arriving late loses to them instead of resurrecting the entry.
import { entryId, type EntryRecord, type TableEvent } from './types.js';

interface Stored extends EntryRecord {
  /** For tombstones: when to forget them. */
  reapAt: number;
}

/** Does `incoming` replace `existing`? */
export function supersedes(incoming: EntryRecord, existing: EntryRecord | undefined): boolean {
  if (!existing) return true;
  if (incoming.ltime !== existing.ltime) return incoming.ltime > existing.ltime;
  if (incoming.owner !== existing.owner) return incoming.owner > existing.owner;
  // Same owner, same time: only a local tombstone (owner gone) can differ; the owner's word is equal.
  return false;
}

export class EntryStore {
  private readonly entries = new Map<string, Stored>();

  constructor(private readonly reapMs: number) {}

  get(table: string, network: string, key: string): EntryRecord | undefined {
    return this.entries.get(entryId(table, network, key));
  }

  /** Live and tombstoned entries of a network (what a bulk sync carries). */
  ofNetwork(network: string): EntryRecord[] {
    return [...this.entries.values()].filter((e) => e.network === network).map(strip);
  }

  all(): EntryRecord[] {
    return [...this.entries.values()].map(strip);
  }

  /**
   * Stores `rec` if it supersedes what we have; returns the event it causes (undefined when it is
   * stale, or is a tombstone for an entry we never saw, which is kept silently), and whether it
   * was applied at all (the caller re-gossips applied news).
   */
  apply(rec: EntryRecord, now: number): { applied: boolean; event?: TableEvent } {
    const id = entryId(rec.table, rec.network, rec.key);
    const cur = this.entries.get(id);
    if (!supersedes(rec, cur)) return { applied: false };
    const wasLive = cur !== undefined && !cur.deleted;
    this.entries.set(id, {
      ...rec,
      value: rec.deleted && cur ? cur.value : rec.value,
      reapAt: rec.deleted ? now + this.reapMs : Infinity,
    });
    const base = { table: rec.table, network: rec.network, key: rec.key, owner: rec.owner };
    if (rec.deleted) {
      return { applied: true, event: wasLive ? { type: 'delete', ...base, value: cur.value } : undefined };
    }
    // A re-assertion (same value, newer ltime) changes nothing a consumer could program.
    if (wasLive && cur.value === rec.value) return { applied: true };
    return { applied: true, event: { type: wasLive ? 'update' : 'create', ...base, value: rec.value } };
  }

  /**
   * Tombstones, locally and without a new ltime, every live entry matching `pred` (an owner that
   * died or left the network; or every entry of a network this node left). Not gossiped: each node
   * does it on its own when it learns of the departure. The owner re-asserts its entries with a
   * newer ltime if it comes back.
   */
  tombstoneWhere(pred: (e: EntryRecord) => boolean, now: number): TableEvent[] {
    const events: TableEvent[] = [];
    for (const e of this.entries.values()) {
      if (e.deleted || !pred(e)) continue;
      e.deleted = true;
      e.reapAt = now + this.reapMs;
      events.push({
        type: 'delete',
        table: e.table,
        network: e.network,
        key: e.key,
        value: e.value,
        owner: e.owner,
      });
    }
    return events;
  }

  reap(now: number): void {
    for (const [id, e] of this.entries) if (e.deleted && e.reapAt <= now) this.entries.delete(id);
  }
}

function strip(e: Stored): EntryRecord {
  return {
    table: e.table,
    network: e.network,
    key: e.key,
    value: e.value,
    owner: e.owner,
    ltime: e.ltime,
    deleted: e.deleted,
  };
}
