// The service workload of a chaos round: one client creating services, scaling them and updating their
// task spec (a rolling update), through random managers, while faults come and go. Each service's
// acknowledged spec and the writes that failed (which may or may not have applied) are kept, so the
// end of the round can tell what every service must have converged to.
import type { LabHostState } from '../../deploy/lab/state.js';
import type { Prng } from '../../lib/prng.js';
import { api, countError, getService } from './kv.js';

/** What a service's spec is made of here: its replica count and a marker in its tasks' environment. */
export interface Shape {
  replicas: number;
  generation: number;
}

export interface ServiceRecord {
  name: string;
  /** The last acknowledged shape, or undefined while the create itself is unacknowledged. */
  acked?: Shape;
  /** Shapes sent after the last acknowledgement whose call failed: each may have applied. */
  pending: Shape[];
}

export interface WorkloadStats {
  creates: number;
  scales: number;
  updates: number;
  acked: number;
  failed: number;
  errors: Record<string, number>;
}

/** A spec the API refuses is a bug of this workload, not a fault's doing: it stops the round. */
const INVALID_ARGUMENT = 3;

const MAX_REPLICAS = 3;

const spec = (name: string, s: Shape) => ({
  name,
  labels: {},
  task: {
    image: 'host',
    command: ['sleep', '100000'],
    env: [`CHAOS_GENERATION=${s.generation}`],
    // A task that fails is replaced soon: the round is short.
    restartPolicy: { condition: 'any', delayMs: 500, maxAttempts: 0, windowMs: 0 },
    stopGracePeriodMs: 2_000,
  },
  replicated: { replicas: s.replicas },
  update: { parallelism: 1, delayMs: 200, order: 'stop-first', failureAction: 'continue', monitorMs: 500 },
});

async function send(
  host: LabHostState,
  rec: ServiceRecord,
  next: Shape,
  stats: WorkloadStats,
): Promise<void> {
  try {
    if (!rec.acked && rec.pending.length === 0) {
      rec.pending.push(next);
      await api(host, (c) => c.createService({ spec: spec(rec.name, next) }));
    } else {
      const current = await getService(host, rec.name);
      rec.pending.push(next);
      await api(host, (c) =>
        c.updateService({ ref: current.id, version: current.meta.version, spec: spec(rec.name, next) }),
      );
    }
    rec.acked = next;
    rec.pending = [];
    stats.acked++;
  } catch (err) {
    if ((err as { code?: number }).code === INVALID_ARGUMENT) throw err;
    stats.failed++;
    countError(stats.errors, err);
  }
}

export interface WorkloadOptions {
  managers: LabHostState[];
  rng: Prng;
  services: ServiceRecord[];
  maxServices: number;
  stats: WorkloadStats;
  running: () => boolean;
}

export async function runWorkload(o: WorkloadOptions): Promise<void> {
  while (o.running()) {
    const host = o.rng.pick(o.managers);
    const known = o.services.filter((s) => s.acked);
    const unconfirmed = o.services.find((s) => !s.acked);
    if (unconfirmed) {
      // A create that failed may have applied: find out by updating it (a NOT_FOUND retries the create).
      const exists = await getService(host, unconfirmed.name).then(
        () => true,
        (err: { code?: number }) => (err.code === 5 ? false : undefined),
      );
      if (exists === false) unconfirmed.pending = [];
      if (exists !== undefined) {
        o.stats.creates++;
        await send(host, unconfirmed, { replicas: o.rng.int(1, MAX_REPLICAS), generation: 0 }, o.stats);
      }
    } else if (known.length < o.maxServices && (known.length === 0 || o.rng.chance(0.25))) {
      const rec: ServiceRecord = { name: `svc${o.services.length + 1}`, pending: [] };
      o.services.push(rec);
      o.stats.creates++;
      await send(host, rec, { replicas: o.rng.int(1, MAX_REPLICAS), generation: 0 }, o.stats);
    } else {
      const rec = o.rng.pick(known);
      const base = rec.acked!;
      if (o.rng.chance(0.5)) {
        o.stats.scales++;
        await send(host, rec, { ...base, replicas: o.rng.int(0, MAX_REPLICAS) }, o.stats);
      } else {
        o.stats.updates++;
        await send(host, rec, { ...base, generation: base.generation + 1 }, o.stats);
      }
    }
    await new Promise((r) => setTimeout(r, 300 + o.rng.int(0, 700)));
  }
}
