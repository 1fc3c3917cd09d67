// How a Ready's state reaches storage, following the ReadyPlanner's decisions (ready-plan.ts).
import { performance } from 'node:perf_hooks';
import type { Ready } from '../types.js';
import type { NodeMetrics } from './options.js';
import { type ReadyPlan, ReadyPlanner } from './ready-plan.js';
import type { NodeStorage } from './storage.js';

export class ReadyWriter {
  private readonly planner: ReadyPlanner;

  constructor(
    private readonly storage: NodeStorage,
    private readonly counters: NodeMetrics,
    /** Called when a write that was not awaited fails: the member must stop. */
    private readonly onFailure: (err: unknown) => void,
  ) {
    this.planner = new ReadyPlanner(storage.initialState().hardState);
  }

  plan(rd: Ready, isLeader: boolean): ReadyPlan {
    return this.planner.plan(rd, isLeader);
  }

  /** Carries out a plan's write; resolves once it is as durable as the plan waits for. */
  async write(plan: ReadyPlan): Promise<void> {
    if (!plan.batch) return;
    const write = this.storage.save(plan.batch, plan.sync);
    this.counters.entriesWritten += plan.batch.entries.length;
    if (plan.wait) {
      const started = performance.now();
      await write;
      this.counters.syncedWrites++;
      this.counters.syncedWriteMs += performance.now() - started;
    } else {
      write.catch(this.onFailure);
    }
  }

  /** Writes a deferred commit index now (unsynced; storage orders it before any later write). */
  flushDeferred(): Promise<void> {
    const hardState = this.planner.takeDeferred();
    if (!hardState) return Promise.resolve();
    const write = this.storage.save({ hardState, entries: [] }, false);
    write.catch(this.onFailure);
    return write;
  }
}
