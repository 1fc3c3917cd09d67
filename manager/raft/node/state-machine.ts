// The application a RaftNode replicates (the store, or the test KV).
import type { Entry } from '../types.js';

export interface StateMachine {
  /**
   * Applies a committed entry, in log order, exactly once per member lifetime (replayed from the last
   * snapshot after a restart). `entry.data` is the application's payload. Must be deterministic; the
   * return value goes back to the member that proposed it.
   */
  apply(entry: Entry): unknown;
  /** Serializes the whole applied state (everything up to the last applied entry). */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's. */
  restore(data: Uint8Array): void;
}
