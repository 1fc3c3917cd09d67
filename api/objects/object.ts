// What every replicated object carries. Everything in api/objects is plain JSON: objects travel inside
// Raft entries and snapshots, and every manager must rebuild byte-identical state from them.
//
// `spec` is what users and controllers ask for; the other fields are observed or derived state.
// Adding a kind means: its type in a file here, an entry in SwarmObjects (index.ts), and its TableSpec
// (indexes, validation) in manager/store/indexes.ts. Nothing else in the store is kind-specific.

/** Bookkeeping the store owns; callers never set it (apply stamps it). */
export interface Meta {
  /** The Raft index of the object's last write: the version an optimistic update must present. */
  version: number;
  /** ISO timestamps chosen by the proposer at propose time, so apply never reads a clock. */
  createdAt: string;
  updatedAt: string;
}

export interface StoreObject {
  id: string;
  meta: Meta;
}

/** What a writer hands to `tx.create`: the object without the store-owned `meta`. */
export type NewObject<T extends StoreObject> = Omit<T, 'meta'>;
