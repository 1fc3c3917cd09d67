// A key-value store made of the cluster's own objects, and clients that record a history of it for the
// linearizability checker of the Raft simulation (manager/raft/sim/linearizability.ts).
//
// Key k is the label `v` of a service `kv-k` with 0 replicas (so it runs nothing). A read is GetService;
// a write is the control API's optimistic concurrency: GetService, then UpdateService at the version
// read with the label changed. An update accepted at version V means the label still held the value
// read at V when the write applied, so an acknowledged write is recorded as a compare-and-set from the
// value read to the new one, which is stronger than a put and exactly what the API promises.
//
// A call that fails is ambiguous unless the error proves otherwise, and the daemon retries a forwarded
// call whose leader went silent (manager/control-router.ts), so even ABORTED may follow a first attempt
// that applied: every failed write is recorded as pending (it may or may not have taken effect, at any
// time after its call), never as refused, and never retried. Failed reads observed nothing and are
// recorded as pending too (the checker drops them). Times are wall-clock milliseconds with sub-ms
// precision, taken on this one machine for every client.
import { performance } from 'node:perf_hooks';
import { unaryCalls } from '../../api/calls.js';
import { services } from '../../api/rpc.js';
import { serviceView, type ServiceView } from '../../cli/objects.js';
import { daemonClient, type LocalCalls } from '../../daemon/client.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import type { KvOp } from '../../lib/linearizability.js';
import type { Prng } from '../../lib/prng.js';

/** Generous: a call may wait out an election and a forwarded retry on a loaded machine. */
const CALL_TIMEOUT_MS = 15_000;
const LABEL = 'v';

export const now = (): number => performance.timeOrigin + performance.now();

export const kvServiceName = (key: string) => `kv-${key}`;

/**
 * Calls on a host's local API, typed, all within one deadline; a failure keeps its gRPC code
 * (withDaemon would make it a user message).
 */
export async function api<T>(
  host: LabHostState,
  fn: (calls: LocalCalls) => Promise<T>,
  timeoutMs = CALL_TIMEOUT_MS,
): Promise<T> {
  const client = daemonClient(`unix://${host.socket}`);
  try {
    return await fn(unaryCalls(client, services.local().service, { deadline: Date.now() + timeoutMs }));
  } finally {
    client.close();
  }
}

export const getService = async (host: LabHostState, ref: string): Promise<ServiceView> =>
  serviceView((await api(host, (c) => c.getService({ ref }))).service);

/** Creates the services that hold the keys, before any history is recorded (every key absent). */
export async function createKvKeys(host: LabHostState, keys: string[]): Promise<void> {
  for (const key of keys) {
    await api(host, (c) =>
      c.createService({
        spec: {
          name: kvServiceName(key),
          labels: {},
          task: { image: 'host', command: ['true'] },
          replicated: { replicas: 0 },
        },
      }),
    );
  }
}

export interface KvStats {
  reads: number;
  readsFailed: number;
  writesAcked: number;
  writesPending: number;
  /** Failed calls by what they said, for the round's report. */
  errors: Record<string, number>;
}

/** A failed call's gist: its gRPC code name (or the error's first words), without ids or numbers. */
export function errorKind(err: unknown): string {
  const e = err as { message?: string };
  const text = String(e.message ?? err)
    .split('\n')[0]!
    .replace(/[0-9a-z]{25}/g, 'ID')
    .replace(/[0-9]+/g, 'N');
  return text.slice(0, 90);
}

export function countError(errors: Record<string, number>, err: unknown): void {
  const kind = errorKind(err);
  errors[kind] = (errors[kind] ?? 0) + 1;
}

/** Reads a key, recording the operation; returns the value, or undefined when the read failed. */
async function read(
  host: LabHostState,
  clientId: number,
  key: string,
  history: KvOp[],
  errors: Record<string, number>,
): Promise<{ value: string | null; service: ServiceView } | undefined> {
  const op: KvOp = { clientId, kind: 'get', key, call: now(), ret: Infinity };
  history.push(op);
  try {
    const service = await getService(host, kvServiceName(key));
    op.ret = now();
    const value = service.spec.labels?.[LABEL] ?? null;
    op.output = value;
    return { value, service };
  } catch (err) {
    countError(errors, err);
    return undefined;
  }
}

/** A read-then-conditional-write of `value`; returns whether the write was acknowledged. */
async function write(
  host: LabHostState,
  clientId: number,
  key: string,
  value: string,
  history: KvOp[],
  errors: Record<string, number>,
): Promise<'acked' | 'pending' | 'unread'> {
  const before = await read(host, clientId, key, history, errors);
  if (!before) return 'unread';
  const { service } = before;
  const op: KvOp = {
    clientId,
    kind: 'cas',
    key,
    value,
    ...(before.value === null ? {} : { expected: before.value }),
    call: now(),
    ret: Infinity,
  };
  history.push(op);
  try {
    await api(host, (c) =>
      c.updateService({
        ref: service.id,
        version: service.meta.version,
        spec: { ...service.spec, labels: { ...service.spec.labels, [LABEL]: value } },
      }),
    );
    op.ret = now();
    op.output = true;
    return 'acked';
  } catch (err) {
    countError(errors, err);
    return 'pending';
  }
}

export interface KvClientOptions {
  clientId: number;
  keys: string[];
  managers: LabHostState[];
  rng: Prng;
  history: KvOp[];
  stats: KvStats;
  /** The values this client had acknowledged, by key, for the "every acknowledged write" check. */
  acked: { key: string; value: string }[];
  running: () => boolean;
}

/** One client: a closed loop of reads and writes on random keys through random managers. */
export async function runKvClient(o: KvClientOptions): Promise<void> {
  for (let seq = 0; o.running(); seq++) {
    const host = o.rng.pick(o.managers);
    const key = o.rng.pick(o.keys);
    let ok = true;
    if (o.rng.chance(0.4)) {
      o.stats.reads++;
      ok = !!(await read(host, o.clientId, key, o.history, o.stats.errors));
      if (!ok) o.stats.readsFailed++;
    } else {
      const value = `c${o.clientId}-${seq}`;
      const r = await write(host, o.clientId, key, value, o.history, o.stats.errors);
      ok = r === 'acked';
      if (r === 'acked') {
        o.stats.writesAcked++;
        o.acked.push({ key, value });
      } else if (r === 'pending') o.stats.writesPending++;
      else o.stats.readsFailed++;
    }
    // A call to a killed manager fails at once: back off after a failure, not after a success.
    await new Promise((r) => setTimeout(r, ok ? 20 + o.rng.int(0, 80) : 300 + o.rng.int(0, 300)));
  }
}

/**
 * Reads every key once more through each manager (after the faults are healed) and appends the reads
 * to the history, so the final state is checked for linearizability with the rest.
 */
export async function finalReads(
  managers: LabHostState[],
  keys: string[],
  history: KvOp[],
  timeoutMs: number,
): Promise<Map<string, string | null>> {
  const finals = new Map<string, string | null>();
  const deadline = Date.now() + timeoutMs;
  for (const [i, host] of managers.entries()) {
    for (const key of keys) {
      // A manager restarted by the last fault may still be catching up: a failed read is retried.
      const errors: Record<string, number> = {};
      for (;;) {
        const r = await read(host, 1000 + i, key, history, errors);
        if (r) {
          finals.set(key, r.value);
          break;
        }
        if (Date.now() > deadline)
          throw new Error(
            `final reads of ${key} through ${host.hostname} failed: ${Object.keys(errors).join('; ')}`,
          );
        await new Promise((res) => setTimeout(res, 500));
      }
    }
  }
  return finals;
}

/**
 * Every acknowledged write is still there: it is the key's final value, or a write that took effect
 * (acknowledged, or a pending one whose value was seen) was made from it. A write overwritten by one
 * that never saw it is a lost update.
 */
export function lostWrites(
  acked: { key: string; value: string }[],
  history: readonly KvOp[],
  finals: Map<string, string | null>,
): { key: string; value: string }[] {
  const seen = new Set<string>();
  for (const op of history) {
    if (op.kind === 'get' && typeof op.output === 'string') seen.add(`${op.key}\0${op.output}`);
    if (op.kind === 'cas' && op.expected !== undefined) seen.add(`${op.key}\0${op.expected}`);
  }
  for (const [key, value] of finals) if (value !== null) seen.add(`${key}\0${value}`);
  const builtOn = new Set(
    history
      .filter((op) => op.kind === 'cas' && op.expected !== undefined)
      .filter((op) => op.output === true || seen.has(`${op.key}\0${op.value}`))
      .map((op) => `${op.key}\0${op.expected}`),
  );
  return acked.filter((w) => finals.get(w.key) !== w.value && !builtOn.has(`${w.key}\0${w.value}`));
}
