// The replicated store: in-memory tables written only by applying committed Raft entries.
//
//   update(fn) ── stage actions ── encode batch ── proposer.propose(bytes) ──► Raft log
//                                                                                  │ commit
//   every manager:  applyCommitted(bytes, index) ── apply (pure) ── tables ── watch events
//
// The proposing store learns its batch's fate through the request id in the envelope: apply records the
// outcome under that id if a local update() is waiting for it, and update() reads it once the proposer's
// promise resolves (which it does only after the entry was applied here). So the store needs nothing of
// the proposer but "resolve after local apply", and works the same over a fake log and over Raft.
import { randomBytes } from 'node:crypto';
import { BATCH_FORMAT_VERSION, encodeBatchOf, peekRequestId } from './actions.js';
import { applyEntry, type ApplyOutcome, type ProposedBatch } from './apply.js';
import { errorFromApply, ProposalTooLargeError, UnknownOutcomeError } from './errors.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { createTables, type KindOf, type ObjectMap, type Schema, type Table, type Tables } from './tables.js';
import { ReadTransaction, WriteTransaction, type ReadTx, type WriteTx } from './tx.js';
import {
  Watchers,
  type StoreEvent,
  type Subscription,
  type WatchFilter,
  type WatchOptions,
} from './watch.js';
import { createLogger } from '../../lib/log.js';
import type { StoreObject } from '../../api/objects/index.js';

/** What the store needs from Raft: replicate these bytes, and settle only after they were applied here. */
export interface Proposer {
  propose(data: Uint8Array): Promise<unknown>;
}

/** The part of a logger the store uses (pino's Logger fits). */
export interface StoreLogger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export interface StoreOptions<M extends ObjectMap> {
  schema: Schema<M>;
  proposer: Proposer;
  logger?: StoreLogger;
  /** The proposer's clock, as an ISO string. Only update() calls it; apply never does. */
  now?: () => string;
  /** Request ids must not repeat across managers and restarts: 128 random bits by default. */
  newRequestId?: () => string;
  /** Larger batches are refused before proposing (SwarmKit's limit: 1.5 MiB). */
  maxProposalBytes?: number;
}

export const DEFAULT_MAX_PROPOSAL_BYTES = 1.5 * 1024 * 1024;

export interface UpdateResult<R> {
  /** The Raft index the batch was applied at: every object it wrote now has this meta.version. */
  index: number;
  /** What the transaction callback returned. */
  value: R;
}

export class Store<M extends ObjectMap> {
  private readonly tables: Tables<M>;
  private readonly kinds: ReadonlySet<string>;
  private readonly watchers = new Watchers<M>();
  /** Outcomes awaited by local update() calls, by request id; undefined until applied. */
  private readonly pending = new Map<string, ApplyOutcome | undefined>();
  /** This store's batches in flight, by request id, as staged: apply uses them if the bytes commit as sent. */
  private readonly proposed = new Map<string, ProposedBatch>();
  private readonly proposer: Proposer;
  private readonly logger: StoreLogger;
  private readonly now: () => string;
  private readonly newRequestId: () => string;
  private readonly maxProposalBytes: number;
  private applied = 0;

  constructor(private readonly options: StoreOptions<M>) {
    this.tables = createTables(options.schema);
    this.kinds = new Set(Object.keys(options.schema));
    this.proposer = options.proposer;
    this.logger = options.logger ?? createLogger('info', { component: 'store' });
    this.now = options.now ?? (() => new Date().toISOString());
    this.newRequestId = options.newRequestId ?? (() => randomBytes(16).toString('hex'));
    this.maxProposalBytes = options.maxProposalBytes ?? DEFAULT_MAX_PROPOSAL_BYTES;
  }

  /** The Raft index of the last entry applied (or restored from a snapshot). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** Runs a synchronous read. Objects read are frozen: copy before changing (see tx.update). */
  view<R>(fn: (tx: ReadTx<M>) => R): R {
    const tx = new ReadTransaction(this.tables);
    try {
      return fn(tx);
    } finally {
      tx.close();
    }
  }

  /**
   * Runs `fn` (synchronously) to stage writes, proposes them as one batch and resolves once the batch is
   * applied here. Rejects with the apply-time error (SequenceConflictError, ExistsError, NotFoundError,
   * NameConflictError, InvalidObjectError) if the batch was refused, or with the proposer's error. A
   * transaction that staged nothing resolves at once without proposing.
   */
  async update<R>(fn: (tx: WriteTx<M>) => R): Promise<UpdateResult<R>> {
    const at = this.now();
    const tx = new WriteTransaction(this.tables, at);
    let value: R;
    try {
      value = fn(tx);
    } finally {
      tx.close();
    }
    if (isThenable(value)) {
      // Reads after an await would see later commits while writes still carry the old versions. Its
      // own failure (it may touch the closed tx) must not surface as an unhandled rejection.
      (value as PromiseLike<unknown>).then(undefined, () => undefined);
      throw new TypeError('store.update: the transaction callback must be synchronous');
    }
    const { actions, json } = tx.actions();
    if (actions.length === 0) return { index: this.applied, value };
    const requestId = this.newRequestId();
    const envelope = { v: BATCH_FORMAT_VERSION, requestId, at } as const;
    const data = encodeBatchOf(envelope, json);
    if (data.length > this.maxProposalBytes) {
      throw new ProposalTooLargeError(
        `store batch of ${actions.length} actions is ${data.length} bytes, over the ${this.maxProposalBytes} byte limit`,
      );
    }
    this.pending.set(requestId, undefined);
    this.proposed.set(requestId, { data, batch: { ...envelope, actions } });
    let proposeFailed = false;
    let proposeError: unknown;
    try {
      await this.proposer.propose(data);
    } catch (err) {
      proposeFailed = true;
      proposeError = err;
    } finally {
      this.proposed.delete(requestId);
    }
    const outcome = this.pending.get(requestId);
    this.pending.delete(requestId);
    // An outcome applied here is the truth about this batch, even if the proposer also reported an error.
    if (outcome) {
      if (!outcome.ok) throw errorFromApply(outcome.error);
      return { index: outcome.index, value };
    }
    if (proposeFailed) throw proposeError;
    throw new UnknownOutcomeError(
      `store batch ${requestId} was reported done but was not applied by this store`,
    );
  }

  /** Subscribes to events from now on. */
  watch(filter: WatchFilter<M> = {}, options: WatchOptions = {}): Subscription<M> {
    return this.watchers.subscribe(filter, options);
  }

  /**
   * Reads and subscribes atomically: the subscription delivers exactly the events committed after the
   * state `fn` saw (JS runs both in one turn; apply cannot interleave), so nothing is missed or seen twice.
   */
  viewAndWatch<R>(
    fn: (tx: ReadTx<M>) => R,
    filter: WatchFilter<M> = {},
    options: WatchOptions = {},
  ): { value: R; subscription: Subscription<M> } {
    const value = this.view(fn);
    return { value, subscription: this.watchers.subscribe(filter, options) };
  }

  /**
   * Applies a committed entry, in log order, on every manager. Never throws: malformed bytes are logged
   * and skipped, refused batches change nothing; either way the index is consumed. Entries at or below
   * the applied index (a replay) are ignored. Returns the outcome (undefined for ignored entries).
   */
  applyCommitted(data: Uint8Array, index: number): ApplyOutcome | undefined {
    if (!Number.isSafeInteger(index) || index <= this.applied) {
      this.logger.warn({ index, applied: this.applied }, 'store: ignoring entry not above the applied index');
      return undefined;
    }
    this.applied = index;
    // A new leader's empty no-op entry, if the proposer passes it on: nothing to apply.
    if (data.length === 0) return { ok: true, index };
    const result = applyEntry(this.tables, this.kinds, data, index, this.ownProposal(data));
    const { requestId, outcome } = result;
    if (requestId !== undefined && this.pending.has(requestId) && this.pending.get(requestId) === undefined) {
      this.pending.set(requestId, outcome);
    }
    if (result.malformed !== undefined) {
      this.logger.error(
        { index, reason: result.malformed, bytes: data.length },
        'store: skipping malformed entry',
      );
    } else if (!outcome.ok) {
      this.logger.debug({ index, requestId, error: outcome.error }, 'store: batch refused at apply');
    } else {
      const events: StoreEvent<M>[] = result.events;
      this.watchers.publish([...events, { type: 'commit', index }]);
    }
    return outcome;
  }

  /** The batch this store proposed that `data` may be; apply uses it only if the bytes are identical. */
  private ownProposal(data: Uint8Array): ProposedBatch | undefined {
    if (this.proposed.size === 0) return undefined;
    const requestId = peekRequestId(data);
    return requestId === undefined ? undefined : this.proposed.get(requestId);
  }

  /** The Raft state-machine hook: entries arrive committed, in log order. */
  apply(entry: { index: number; data: Uint8Array }): ApplyOutcome | undefined {
    return this.applyCommitted(entry.data, entry.index);
  }

  /** The whole store, with the applied index; equal stores give equal bytes. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.tables, this.applied);
  }

  /**
   * Replaces the whole state with a snapshot's (throws InvalidSnapshotError, changing nothing, if it
   * does not decode) and tells every watcher with a 'restored' event.
   */
  restore(data: Uint8Array): void {
    const contents = decodeSnapshot(data, this.options.schema);
    for (const kind of Object.keys(this.tables) as KindOf<M>[]) {
      const table = this.tables[kind] as unknown as Table<StoreObject>;
      table.clear();
      for (const obj of contents.objects[kind] ?? []) table.put(obj);
    }
    this.applied = contents.index;
    this.watchers.publish([{ type: 'restored', index: contents.index }]);
  }
}

function isThenable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
