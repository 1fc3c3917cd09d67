// Input the daemon refused from the network: garbage datagrams on 7946, malformed DNS packets at
// 127.0.0.11, calls on 2377 without a valid certificate of the swarm. Each is dropped without a crash,
// and must not be invisible either: it is counted per kind (`swarmlite info` shows the totals), and
// logged at most once per interval for each (source, kind) with the count of that interval, so 10,000
// garbage packets from one address make one warning line, not 10,000 (memberlist logs each one).
//
// The accounting is a pure object (`RejectLog`: note, then flush with the clock the caller gives);
// the daemon drives its flush from a timer. Sources are bounded per interval so a flood of spoofed
// addresses cannot grow memory: past the bound they are counted under OTHER_SOURCES.

/** One line of the log: what was refused, from where, how often in this interval. */
export interface RejectSummary {
  kind: string;
  source: string;
  count: number;
  /** Wall-clock ms of the first and last reject of the interval. */
  first: number;
  last: number;
  /** An example of why (the first of the interval). */
  reason: string;
}

export const OTHER_SOURCES = '(other sources)';
const DEFAULT_REJECT_INTERVAL_MS = 10_000;
const DEFAULT_MAX_SOURCES = 256;

export class RejectLog {
  private readonly totals = new Map<string, number>();
  private pending = new Map<string, RejectSummary>();

  constructor(private readonly maxSources = DEFAULT_MAX_SOURCES) {}

  /** Records one refused input. `kind` is e.g. `gossip:bad-crypto`; `source` an address or a task. */
  note(kind: string, source: string, reason: string, now: number): void {
    this.totals.set(kind, (this.totals.get(kind) ?? 0) + 1);
    let key = `${kind}\0${source}`;
    let entry = this.pending.get(key);
    if (!entry && this.pending.size >= this.maxSources) {
      source = OTHER_SOURCES;
      key = `${kind}\0${source}`;
      entry = this.pending.get(key);
    }
    if (entry) {
      entry.count++;
      entry.last = now;
      return;
    }
    this.pending.set(key, { kind, source, count: 1, first: now, last: now, reason });
  }

  /** The interval's summaries (one per source and kind), sorted; the interval starts over. */
  flush(): RejectSummary[] {
    const out = [...this.pending.values()].sort(
      (a, b) => a.kind.localeCompare(b.kind) || a.source.localeCompare(b.source),
    );
    this.pending = new Map();
    return out;
  }

  /** Totals since the start, by kind. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.totals].sort(([a], [b]) => a.localeCompare(b)));
  }
}

interface Sink {
  warn(obj: object, msg: string): void;
}

/**
 * The daemon's one RejectLog: every listener notes into it (`rejected(...)`), the daemon starts the
 * flush timer with its logger (`startRejectLogging`) and reads the totals for `info`. Before that
 * (tests, tools), rejects are still counted; they are logged once a logger is set.
 */
const daemonRejects = new RejectLog();

export function rejected(kind: string, source: string, reason: string): void {
  daemonRejects.note(kind, source, reason, Date.now());
}

export function rejectCounts(): Record<string, number> {
  return daemonRejects.counts();
}

/** The line written for a summary (also what tests look for). */
export function rejectLine(s: RejectSummary, intervalMs: number): string {
  return `rejected ${s.count} ${s.kind} input${s.count === 1 ? '' : 's'} from ${s.source} in the last ${Math.round(intervalMs / 1000)} s: ${s.reason}`;
}

/** Logs the interval's summaries every `intervalMs`; returns the stop function (which flushes). */
export function startRejectLogging(log: Sink, intervalMs = DEFAULT_REJECT_INTERVAL_MS): () => void {
  const flush = () => {
    for (const s of daemonRejects.flush())
      log.warn(
        { kind: s.kind, source: s.source, count: s.count, first: new Date(s.first).toISOString() },
        rejectLine(s, intervalMs),
      );
  };
  const timer = setInterval(flush, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    flush();
  };
}
