// Types of the networkdb-style tables core. Values travel as base64 strings so that every message
// is plain JSON; the shell converts to and from bytes at its API.

export interface TablesConfig {
  /** Every interval, each network's pending events go to `gossipNodes` random members of it. */
  gossipIntervalMs: number;
  gossipNodes: number;
  /** Per-network retransmit limit = mult * ceil(log10(network members + 1)). */
  retransmitMult: number;
  /** Full-table exchange of each network with one random member of it (TCP in the shell). */
  bulkSyncIntervalMs: number;
  /** Tombstones (and "left network" records) are kept this long, then forgotten. */
  reapMs: number;
  packetBudget: number;
}

/** networkdb's defaults, except bulk sync which it runs every 30 s as well. */
export const defaultTablesConfig: TablesConfig = {
  gossipIntervalMs: 200,
  gossipNodes: 3,
  retransmitMult: 6,
  bulkSyncIntervalMs: 30_000,
  reapMs: 30 * 60_000,
  packetBudget: 1400,
};

/** "node joined (or left) network" at a Lamport time: per-network membership, gossiped to all. */
export interface Attachment {
  node: string;
  network: string;
  joined: boolean;
  ltime: number;
}

export interface EntryRecord {
  table: string;
  network: string;
  key: string;
  /** base64 */
  value: string;
  owner: string;
  ltime: number;
  deleted: boolean;
}

export type TableMessage = ({ t: 'net' } & Attachment) | ({ t: 'entry' } & EntryRecord);

export type TableEventType = 'create' | 'update' | 'delete';

export interface TableEvent {
  type: TableEventType;
  table: string;
  network: string;
  key: string;
  /** base64; for a delete, the last value known. */
  value: string;
  owner: string;
}

export interface TablesEffects {
  /** Send table events of one network to a member node (by node id; the host resolves the address). */
  send(toNode: string, msgs: TableMessage[]): void;
  /** Exchange the full tables of `networks` with `toNode` (TCP in the shell). */
  bulkSync(toNode: string, networks: string[]): void;
  event(ev: TableEvent): void;
}

export function entryId(table: string, network: string, key: string): string {
  return `${table}\u0000${network}\u0000${key}`;
}
