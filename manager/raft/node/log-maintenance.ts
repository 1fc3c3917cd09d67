// Snapshots and log compaction, off the Ready loop's critical path.
//
// The state machine is serialized by the caller at a known applied index; writing it out (file,
// fsync, metadata) proceeds in the background, ordered by storage behind the writes already
// submitted, so the loop never stalls on a large snapshot. Compaction then drops at most
// COMPACT_CHUNK entries per tick: deleting thousands of entries is one long storage transaction that
// every later write would queue behind.
import type { ConfState, RaftId } from '../types.js';
import type { NodeStorage } from './storage.js';

const COMPACT_CHUNK = 1000;

export class LogMaintenance {
  /** Index of the newest snapshot written (or restored). */
  snapshotIndex: number;
  private snapshotting = false;
  private snapshotDone: Promise<void> = Promise.resolve();
  /** Log entries up to here are covered by a snapshot and may be dropped. */
  private compactTarget = 0;
  private compacting = false;
  private compactDone: Promise<void> = Promise.resolve();

  constructor(
    private readonly storage: NodeStorage,
    snapshotIndex: number,
    private readonly keepEntries: number,
    private readonly onFailure: (err: unknown) => void,
  ) {
    this.snapshotIndex = snapshotIndex;
  }

  get busy(): boolean {
    return this.snapshotting;
  }

  /** Starts writing a snapshot of the state at `index`; ignored while one is being written. */
  snapshot(index: number, confState: ConfState, data: Uint8Array): void {
    if (this.snapshotting) return;
    this.snapshotting = true;
    this.snapshotDone = (async () => {
      try {
        await this.storage.createSnapshot(index, confState, data);
        this.snapshotIndex = Math.max(this.snapshotIndex, index);
        this.compactTarget = Math.max(this.compactTarget, index - this.keepEntries);
      } catch (err) {
        this.onFailure(err);
      } finally {
        this.snapshotting = false;
      }
    })();
  }

  /** One compaction step toward the target; called every tick. */
  compactStep(): void {
    if (this.compacting) return;
    const first = this.storage.firstIndex();
    if (this.compactTarget < first) return;
    const to = Math.min(this.compactTarget, first - 1 + COMPACT_CHUNK);
    this.compacting = true;
    this.compactDone = Promise.resolve(this.storage.compact(to))
      .catch(this.onFailure)
      .finally(() => {
        this.compacting = false;
      });
  }

  /** Resolves once no snapshot or compaction is in flight. */
  async idle(): Promise<void> {
    await this.snapshotDone;
    await this.compactDone;
  }
}

/**
 * Where in each `every` entries member `id` snapshots: ids spread by the golden ratio's fraction
 * (consecutive ids land far apart), so members' snapshots fall at different log indices.
 */
export function snapshotPhase(id: RaftId, every: number): number {
  const spread = (Math.imul(id % 0x1_0000_0000, 0x9e3779b1) >>> 0) / 0x1_0000_0000;
  return Math.floor(spread * every);
}
