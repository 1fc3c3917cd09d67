// How a Ready's state reaches storage, following the ReadyPlanner's decisions (ready-plan.ts). Writes
// are handed to storage in Ready order and land in that order (storage commits them in groups, one
// fsync per group); `durable` promises resolve once a write and every write before it has landed,
// which is what releasing an acknowledgement needs.
import { performance } from 'node:perf_hooks';
import type { Ready } from '../types.js';
import { record } from './latency-histogram.js';
import type { NodeMetrics } from './options.js';
import { type ReadyPlan, ReadyPlanner } from './ready-plan.js';
import type { NodeStorage } from './storage.js';

export class ReadyWriter {
  private readonly planner = new ReadyPlanner();
  /** Settles once every write handed to storage so far has landed (rejects if one failed). */
  private tail: Promise<void> = Promise.resolve();
  /** Whether a Ready's write was handed to storage since the last flushDeferredAtTick. */
  private wroteSinceTick = false;

  constructor(
    private readonly storage: NodeStorage,
    private readonly counters: NodeMetrics,
    /** Called when a write fails: the member must stop (fail-stop; nothing after it is released). */
    private readonly onFailure: (err: unknown) => void,
  ) {}

  plan(rd: Ready): ReadyPlan {
    return this.planner.plan(rd);
  }

  /**
   * Hands a plan's write to storage (its reads reflect it at once) and returns a promise that
   * resolves once it, and everything written before it, is durable. Without a write, the promise
   * covers the writes before (a Ready's acknowledgements may promise entries an earlier Ready wrote).
   */
  write(plan: ReadyPlan): Promise<void> {
    if (!plan.batch) return this.tail;
    this.wroteSinceTick = true;
    const started = performance.now();
    const write = this.storage.save(plan.batch, plan.sync);
    this.counters.entriesWritten += plan.batch.entries.length;
    return this.chain(write, () => {
      if (!plan.sync) return;
      this.counters.syncedWrites++;
      const ms = performance.now() - started;
      this.counters.syncedWriteMs += ms;
      record(this.counters.syncedWriteHistogram, ms);
    });
  }

  /**
   * The tick's flush of a deferred commit index: skipped if a Ready was written since the last tick,
   * as the log is busy and the next write carries it anyway. On the WAL an unsynced write costs a
   * synced one (O_DSYNC), and an append arriving while it is in flight waits for it to land first:
   * ten times a second under load, a write's flush took two. Idle, the next tick writes it.
   */
  flushDeferredAtTick(): Promise<void> {
    if (this.wroteSinceTick) {
      this.wroteSinceTick = false;
      return Promise.resolve();
    }
    return this.flushDeferred();
  }

  /** Writes a deferred commit index now (unsynced; storage orders it before any later write). */
  flushDeferred(): Promise<void> {
    const hardState = this.planner.takeDeferred();
    if (!hardState) return Promise.resolve();
    return this.chain(this.storage.save({ hardState, entries: [] }, false));
  }

  private chain(write: Promise<void>, landed?: () => void): Promise<void> {
    const before = this.tail;
    const done = write.then(async () => {
      landed?.();
      await before;
    });
    done.catch(this.onFailure);
    this.tail = done;
    return done;
  }
}
