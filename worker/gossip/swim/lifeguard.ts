// Lifeguard's two refinements of SWIM (Dadgar et al., 2018), as pure arithmetic.
//
// 1. Local health awareness: a node that is itself slow (CPU starved, lossy NIC) misses acks and
//    would wrongly suspect healthy peers. It keeps a score in [0, max-1], raised when its own probes
//    fail without the expected nacks from the indirect helpers (the helpers could reach nobody, or
//    could not reach *us*), and when it has to refute a suspicion about itself; lowered on every
//    successful probe. Probe interval and ack timeout are multiplied by score + 1.
//
// 2. Dynamic suspicion timeout: a suspicion starts at a long timeout (max) and shrinks towards min as
//    independent members confirm it, on a log scale: the first confirmations buy the most certainty.
//        timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1))
//    with k = expected confirmations (suspicionMult - 2, and at most n - 2 since fewer peers cannot
//    confirm). min = suspicionMult * max(1, log10 n) * probeInterval grows slowly with the cluster
//    (suspicions take ~log n rounds to spread); max = suspicionMaxTimeoutMult * min. A lone
//    suspector with a bad link therefore waits 6x longer, giving the target time to refute.

export interface SuspicionBounds {
  minMs: number;
  maxMs: number;
  /** Confirmations needed to reach minMs. */
  k: number;
}

export function suspicionBounds(
  n: number,
  cfg: { suspicionMult: number; suspicionMaxTimeoutMult: number; probeIntervalMs: number },
): SuspicionBounds {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  const minMs = Math.round(cfg.suspicionMult * nodeScale * cfg.probeIntervalMs);
  const k = Math.max(0, Math.min(cfg.suspicionMult - 2, n - 2));
  return { minMs, maxMs: cfg.suspicionMaxTimeoutMult * minMs, k };
}

export function suspicionTimeout(confirmations: number, b: SuspicionBounds): number {
  if (b.k < 1) return b.minMs;
  const fraction = Math.log(confirmations + 1) / Math.log(b.k + 1);
  return Math.max(b.minMs, Math.floor(b.maxMs - fraction * (b.maxMs - b.minMs)));
}

/** One running suspicion: who confirmed it, and when it expires. */
export class Suspicion {
  private readonly confirmers = new Set<string>();

  constructor(
    readonly startedAt: number,
    readonly bounds: SuspicionBounds,
    /** The member whose suspicion started this; it does not count as an independent confirmation. */
    readonly origin: string,
  ) {}

  /** Records a confirmation; true when it is new and independent (worth re-gossiping). */
  confirm(from: string): boolean {
    if (from === this.origin || this.confirmers.has(from)) return false;
    if (this.confirmers.size >= this.bounds.k) return false;
    this.confirmers.add(from);
    return true;
  }

  get confirmations(): number {
    return this.confirmers.size;
  }

  deadline(): number {
    return this.startedAt + suspicionTimeout(this.confirmers.size, this.bounds);
  }
}

/** Local health score (Lifeguard's "LHA"). */
export class Awareness {
  private value = 0;

  constructor(private readonly max: number) {}

  apply(delta: number): void {
    this.value = Math.max(0, Math.min(this.max - 1, this.value + delta));
  }

  get score(): number {
    return this.value;
  }

  scale(ms: number): number {
    return ms * (this.value + 1);
  }
}
