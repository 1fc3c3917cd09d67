// Watching the store: events are queued to each subscriber synchronously at the end of an apply, so
// every subscriber sees them in commit order and a read in the same turn of the event loop sees exactly
// the state those events lead to (what viewAndWatch relies on).
//
// Each subscription has a bounded queue. Apply never waits for a consumer (it runs on every manager at
// Raft's pace); a consumer that falls `queueLimit` events behind is closed with WatchOverflowError and
// its queue dropped, rather than letting memory grow without bound. It then resyncs from a fresh
// viewAndWatch, which is what it would have to do anyway after missing events.
import type { Op } from './actions.js';
import { WatchOverflowError } from './errors.js';
import type { KindOf, ObjectMap } from './tables.js';

/** An object changed in a committed batch. For `delete`, `object` is the object as it was removed. */
export type ObjectEvent<M extends ObjectMap> = {
  [K in KindOf<M>]: { type: 'object'; kind: K; op: Op; object: M[K]; oldObject?: M[K]; index: number };
}[KindOf<M>];

/** A batch finished applying at `index`; its object events came just before. Opt-in (filter.commits). */
export interface CommitEvent {
  type: 'commit';
  index: number;
}

/** The whole state was replaced from a snapshot: forget what you derived and re-read. Always delivered. */
export interface RestoredEvent {
  type: 'restored';
  index: number;
}

export type StoreEvent<M extends ObjectMap> = ObjectEvent<M> | CommitEvent | RestoredEvent;

export interface WatchFilter<M extends ObjectMap> {
  kinds?: readonly KindOf<M>[];
  ops?: readonly Op[];
  /** Runs inside apply: keep it cheap. If it throws, the subscription is closed with that error. */
  predicate?: (event: ObjectEvent<M>) => boolean;
  /** Also deliver a CommitEvent after each applied batch (for consumers that act once per commit). */
  commits?: boolean;
}

export interface WatchOptions {
  /** Events a subscriber may have queued before it is closed with WatchOverflowError. */
  queueLimit?: number;
}

export const DEFAULT_WATCH_QUEUE_LIMIT = 10_000;

export class Subscription<M extends ObjectMap> implements AsyncIterableIterator<StoreEvent<M>> {
  // A growing array with a moving head: O(1) dequeue without Array#shift's copying on long queues.
  private queue: StoreEvent<M>[] = [];
  private head = 0;
  private waiter: { resolve(r: IteratorResult<StoreEvent<M>>): void; reject(err: Error): void } | undefined;
  private failure: Error | undefined;
  private ended = false;

  constructor(
    private readonly filter: WatchFilter<M>,
    private readonly queueLimit: number,
    private readonly onEnd: (sub: Subscription<M>) => void,
  ) {}

  /** True once closed, by the consumer or by an error. */
  get closed(): boolean {
    return this.ended;
  }

  /** Why the subscription was closed, if not by close(). */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Events queued and not yet consumed. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Waits for the next event; rejects with the error that closed the subscription, if any. */
  next(): Promise<IteratorResult<StoreEvent<M>>> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending > 0) return Promise.resolve({ done: false, value: this.dequeue() });
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    if (this.waiter)
      return Promise.reject(new Error('store watch: next() called while a previous next() waits'));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Takes every queued event now, without waiting; throws the error that closed the subscription. */
  drain(): StoreEvent<M>[] {
    if (this.failure) throw this.failure;
    const events = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    return events;
  }

  return(): Promise<IteratorResult<StoreEvent<M>>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops delivery; queued events can still be drained or iterated, then the iterator ends. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ done: true, value: undefined });
  }

  /** Called by the store for each event, in commit order. */
  offer(event: StoreEvent<M>): void {
    if (this.ended) return;
    let wanted: boolean;
    try {
      wanted = this.matches(event);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (!wanted) return;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve({ done: false, value: event });
      return;
    }
    if (this.pending >= this.queueLimit) {
      this.fail(new WatchOverflowError(`store watcher fell ${this.queueLimit} events behind and was closed`));
      return;
    }
    this.queue.push(event);
  }

  private matches(event: StoreEvent<M>): boolean {
    if (event.type === 'restored') return true;
    if (event.type === 'commit') return this.filter.commits === true;
    const { kinds, ops, predicate } = this.filter;
    if (kinds && !kinds.includes(event.kind)) return false;
    if (ops && !ops.includes(event.op)) return false;
    return predicate ? predicate(event) : true;
  }

  private dequeue(): StoreEvent<M> {
    const event = this.queue[this.head++];
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return event;
  }

  private fail(err: Error): void {
    this.failure = err;
    this.queue = [];
    this.head = 0;
    const waiter = this.waiter;
    this.waiter = undefined;
    this.ended = true;
    this.onEnd(this);
    waiter?.reject(err);
  }
}

/** The set of live subscriptions of one store. */
export class Watchers<M extends ObjectMap> {
  private readonly subs = new Set<Subscription<M>>();

  get size(): number {
    return this.subs.size;
  }

  subscribe(filter: WatchFilter<M> = {}, options: WatchOptions = {}): Subscription<M> {
    const limit = options.queueLimit ?? DEFAULT_WATCH_QUEUE_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`watch queueLimit must be ≥ 1, got ${limit}`);
    const sub = new Subscription<M>(filter, limit, (s) => this.subs.delete(s));
    this.subs.add(sub);
    return sub;
  }

  publish(events: readonly StoreEvent<M>[]): void {
    if (events.length === 0) return;
    // A copy: a subscription that fails while offered removes itself from the set.
    for (const sub of [...this.subs]) {
      for (const event of events) sub.offer(event);
    }
  }
}
