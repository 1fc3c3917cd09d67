// The shell every leader-only controller shares (allocator, scheduler, orchestrator): watch some kinds
// of the store, note what an event touched, and run one reconcile pass over everything noted, debounced
// so a burst of events (a 10,000-task batch commit) costs one pass. A pass that fails (a version
// conflict with a concurrent writer, a lost proposal) is retried with backoff: every pass re-reads the
// store, so retrying is always safe. Nothing is remembered across leaderships: a new leader's first
// pass looks at everything.
import type { Logger } from '../lib/log.js';
import type { KindOf, Store, StoreEvent } from './store/index.js';
import type { SwarmObjects } from '../api/objects/index.js';

export interface ReconcileLoopOptions {
  name: string;
  store: Store<SwarmObjects>;
  kinds: KindOf<SwarmObjects>[];
  /** Notes what an event asks the next pass to look at; returns false to ignore the event. */
  onEvent(event: StoreEvent<SwarmObjects>): boolean;
  /** One pass. `full` is true for the first pass of a leadership and after a lost watch. */
  pass(full: boolean): Promise<void>;
  log: Logger;
  /** Quiet time after an event before the pass runs (batches bursts). */
  debounceMs?: number;
  /** Longest an event waits while events keep coming. */
  maxDelayMs?: number;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;

export class ReconcileLoop {
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private firstKickAt = 0;
  private running = false;
  private again = false;
  private full = true;
  private retryMs = RETRY_MIN_MS;
  private closeWatch: (() => void) | undefined;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly opts: ReconcileLoopOptions) {
    this.debounceMs = opts.debounceMs ?? 20;
    this.maxDelayMs = opts.maxDelayMs ?? 200;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.full = true;
    this.watch();
    this.kick(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.closeWatch?.();
    this.closeWatch = undefined;
  }

  /** Asks for a pass `delayMs` from now at the latest (also used for plan wake-ups). */
  kick(delayMs = this.debounceMs): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const now = Date.now();
    if (!this.timer) this.firstKickAt = now;
    const due = Math.min(now + delayMs, this.firstKickAt + this.maxDelayMs);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), Math.max(0, due - now));
  }

  private watch(): void {
    const sub = this.opts.store.watch({ kinds: this.opts.kinds });
    let closed = false;
    this.closeWatch = () => {
      closed = true;
      sub.close();
    };
    void (async () => {
      try {
        for await (const event of sub) {
          if (closed) return;
          if (event.type === 'restored') this.full = true;
          if (event.type === 'restored' || this.opts.onEvent(event)) this.kick();
        }
      } catch (err) {
        if (closed) return;
        // Fell too far behind: look at everything again from a fresh subscription.
        this.opts.log.warn({ err, controller: this.opts.name }, 'store watch lost; resyncing');
        this.full = true;
        this.watch();
        this.kick(0);
      }
    })();
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    this.running = true;
    this.again = false;
    const full = this.full;
    this.full = false;
    try {
      await this.opts.pass(full);
      this.retryMs = RETRY_MIN_MS;
    } catch (err) {
      if (full) this.full = true;
      this.opts.log.info(
        { controller: this.opts.name, err: err instanceof Error ? err.message : String(err) },
        'reconcile pass failed; retrying',
      );
      this.running = false;
      this.kick(this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      return;
    }
    this.running = false;
    if (this.again) this.kick();
  }
}

/** Splits writes so that no store batch exceeds the proposal limit (about 1 KiB per task). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Task writes per store batch: ~1 KiB each keeps a batch well under the 1.5 MiB proposal limit. */
export const TASKS_PER_BATCH = 400;
