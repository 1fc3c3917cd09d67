// Where one write's time goes on the member that proposed it: proposed → appended (handed to
// storage in a Ready) → durable (its own write landed) → quorum (the core reports it committed) →
// applied. Each stage is summed as time since propose(), so a reader divides by `samples` for the
// mean and subtracts two snapshots to judge one run (bench/raft prints it), and each stage's own
// duration is also counted in a histogram (latency-histogram.ts), so that a run's p99 per stage can
// be read the same way: a mean hides which stage a tail comes from. Only this member's own proposals
// are measured; quorum (and applied) may come before durable (the followers' fsyncs were faster), so
// a write is counted once it is both applied and durable.
import { performance } from 'node:perf_hooks';
import { emptyHistogram, record, type Histogram } from './latency-histogram.js';

/** The stages whose durations are counted per write (see WriteLatency.histograms). */
export const WRITE_STAGES = ['append', 'leaderFsync', 'replicate', 'apply', 'total'] as const;
export type WriteStage = (typeof WRITE_STAGES)[number];

export interface WriteLatency {
  /** Writes that reached `applied` and `durable` (the other sums cover exactly these). */
  samples: number;
  appendedMs: number;
  durableMs: number;
  quorumMs: number;
  appliedMs: number;
  /**
   * Per write, cumulative: append = proposed → appended, leaderFsync = appended → durable,
   * replicate = appended → quorum (the followers' round, their fsync included), apply = quorum →
   * applied, total = proposed → applied.
   */
  histograms?: Record<WriteStage, Histogram>;
}

interface Timing {
  proposed: number;
  appended?: number;
  durable?: number;
  quorum?: number;
  applied?: number;
}

export class WriteLatencyTracker {
  private readonly open = new Map<number, Timing>();
  private readonly sums: WriteLatency = {
    samples: 0,
    appendedMs: 0,
    durableMs: 0,
    quorumMs: 0,
    appliedMs: 0,
  };
  private readonly histograms = Object.fromEntries(WRITE_STAGES.map((s) => [s, emptyHistogram()])) as Record<
    WriteStage,
    Histogram
  >;

  proposed(seq: number): void {
    this.open.set(seq, { proposed: performance.now() });
  }

  appended(seqs: number[]): void {
    this.mark(seqs, 'appended');
  }

  durable(seqs: number[]): void {
    this.mark(seqs, 'durable');
    for (const seq of seqs) this.finish(seq);
  }

  committed(seqs: number[]): void {
    this.mark(seqs, 'quorum');
  }

  applied(seq: number): void {
    this.mark([seq], 'applied');
    this.finish(seq);
  }

  /** Forgets a write that failed or timed out. */
  dropped(seq: number): void {
    this.open.delete(seq);
  }

  totals(): WriteLatency {
    const histograms = Object.fromEntries(WRITE_STAGES.map((s) => [s, [...this.histograms[s]]])) as Record<
      WriteStage,
      Histogram
    >;
    return { ...this.sums, histograms };
  }

  /** Counts a write once it is both applied and durable here. */
  private finish(seq: number): void {
    const t = this.open.get(seq);
    if (!t || t.applied === undefined || t.durable === undefined) return;
    this.open.delete(seq);
    if (t.appended === undefined || t.quorum === undefined) return;
    const s = this.sums;
    s.samples++;
    s.appendedMs += t.appended - t.proposed;
    s.durableMs += t.durable - t.proposed;
    s.quorumMs += t.quorum - t.proposed;
    s.appliedMs += t.applied - t.proposed;
    const h = this.histograms;
    record(h.append, t.appended - t.proposed);
    record(h.leaderFsync, t.durable - t.appended);
    record(h.replicate, t.quorum - t.appended);
    record(h.apply, t.applied - t.quorum);
    record(h.total, t.applied - t.proposed);
  }

  private mark(seqs: number[], stage: 'appended' | 'durable' | 'quorum' | 'applied'): void {
    const now = performance.now();
    for (const seq of seqs) {
      const t = this.open.get(seq);
      if (t && t[stage] === undefined) t[stage] = now;
    }
  }
}
