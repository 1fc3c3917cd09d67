// Where one write's time goes on the member that proposed it: proposed → appended (handed to
// storage in a Ready) → durable (its own write landed) → quorum (the core reports it committed) →
// applied. Each stage is summed as time since propose(), so a reader divides by `samples` for the
// mean and subtracts two snapshots to judge one run (bench/raft prints it). Only this member's own
// proposals are measured; quorum may come before durable (the followers' fsyncs were faster).
import { performance } from 'node:perf_hooks';

export interface WriteLatency {
  /** Writes that reached `applied` (the other sums cover exactly these). */
  samples: number;
  appendedMs: number;
  durableMs: number;
  quorumMs: number;
  appliedMs: number;
}

interface Timing {
  proposed: number;
  appended?: number;
  durable?: number;
  quorum?: number;
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

  proposed(seq: number): void {
    this.open.set(seq, { proposed: performance.now() });
  }

  appended(seqs: number[]): void {
    this.mark(seqs, 'appended');
  }

  durable(seqs: number[]): void {
    this.mark(seqs, 'durable');
  }

  committed(seqs: number[]): void {
    this.mark(seqs, 'quorum');
  }

  applied(seq: number): void {
    const t = this.open.get(seq);
    if (!t) return;
    this.open.delete(seq);
    if (t.appended === undefined || t.durable === undefined || t.quorum === undefined) return;
    const s = this.sums;
    s.samples++;
    s.appendedMs += t.appended - t.proposed;
    s.durableMs += t.durable - t.proposed;
    s.quorumMs += t.quorum - t.proposed;
    s.appliedMs += performance.now() - t.proposed;
  }

  /** Forgets a write that failed or timed out. */
  dropped(seq: number): void {
    this.open.delete(seq);
  }

  totals(): WriteLatency {
    return { ...this.sums };
  }

  private mark(seqs: number[], stage: 'appended' | 'durable' | 'quorum'): void {
    const now = performance.now();
    for (const seq of seqs) {
      const t = this.open.get(seq);
      if (t && t[stage] === undefined) t[stage] = now;
    }
  }
}
