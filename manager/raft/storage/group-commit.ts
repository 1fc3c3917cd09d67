// Group commit: jobs submitted while a commit is in flight wait and then go to disk together in the next
// single commit, so N concurrent writers cost one transaction and one fsync, not N. Jobs are committed
// in submission order and each submitter's promise settles when the commit holding its job does.
// The first failure is sticky (fail-stop): after it memory and disk may disagree, so every queued and
// later job is refused until the owner reopens the storage.

import { StorageFailedError } from './errors.js';

interface Waiter<J> {
  job: J;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter<J> {
  private queue: Waiter<J>[] = [];
  private inFlight: Waiter<J>[] = [];
  private running = false;
  private failure: StorageFailedError | undefined;
  private idleWaiters: (() => void)[] = [];

  /** `commit` must write all the jobs it is given atomically and resolve once they are as durable as asked. */
  constructor(private readonly commit: (jobs: readonly J[]) => Promise<void>) {}

  get failed(): StorageFailedError | undefined {
    return this.failure;
  }

  /** Makes the committer refuse every queued and later job: a write done outside it failed. */
  fail(err: unknown): void {
    this.failure ??= err instanceof StorageFailedError ? err : new StorageFailedError(err);
  }

  submit(job: J): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Start on a microtask so that jobs submitted in the same synchronous run share the first commit.
        queueMicrotask(() => void this.drain());
      }
    });
  }

  /** Jobs accepted but not yet committed: the one batch in flight, then those waiting for the next. */
  pendingJobs(): J[] {
    return [...this.inFlight, ...this.queue].map((w) => w.job);
  }

  /** Jobs waiting behind the batch in flight. */
  queuedJobs(): J[] {
    return this.queue.map((w) => w.job);
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.inFlight = batch;
      try {
        if (this.failure) throw this.failure;
        await this.commit(batch.map((w) => w.job));
        for (const w of batch) w.resolve();
      } catch (err) {
        this.failure ??= err instanceof StorageFailedError ? err : new StorageFailedError(err);
        for (const w of batch) w.reject(this.failure);
      }
      this.inFlight = [];
    }
    this.running = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
