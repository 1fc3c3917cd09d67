// Linearizability checker for key-value histories recorded by the Raft simulation.
//
// Approach (as in Porcupine): Wing & Gong's search for a linearization, with Lowe's memoization.
// The history is turned into a doubly linked list of call and return events in time order. A depth-first
// search repeatedly picks a call that is still open (no return seen before it in the list), applies the
// operation to the sequential model and, if the model accepts the recorded output, removes ("lifts") the
// call and its return from the list. Reaching a return event whose call was not lifted means the prefix
// chosen so far cannot be extended, so the search backtracks. Lowe's observation makes this tractable:
// two search states with the same SET of linearized operations and the same model state have identical
// futures, so each (set, state) pair is explored at most once.
//
// Operations on different keys commute and never observe each other, so linearizability is local per key
// (Herlihy & Wing): each key's sub-history is checked on its own, which keeps the bitsets and the
// concurrency window small.

export interface KvOp {
  clientId: number;
  kind: 'put' | 'get' | 'cas';
  key: string;
  value?: string; // put: value written; cas: new value
  expected?: string; // cas: expected current value (undefined = key absent)
  output?: string | null | boolean; // get: value read (null = absent); cas: whether it swapped; put: undefined
  call: number; // invocation time (virtual clock)
  ret: number; // response time; Infinity for ops that never returned (timed out / client crashed)
}

export type LinearizabilityResult = { ok: true } | { ok: false; reason: string };

/**
 * Checks whether a key-value history is linearizable, starting from a store where every key is absent.
 *
 * Operations whose `ret` is Infinity may or may not have taken effect, at any point after their call:
 * pending gets are dropped (they observed nothing), pending puts/cas may be linearized anywhere after their
 * call or not at all. Two events at the same timestamp are treated as concurrent, because a virtual clock
 * cannot tell which happened first; this never reports a violation that a finer clock could explain.
 *
 * Throws on malformed input (ret < call, a completed get without a string|null output, ...): that is a bug
 * in the history recorder, not a property of the system under test.
 */
export function checkLinearizable(history: readonly KvOp[]): LinearizabilityResult {
  const byKey = new Map<string, KvOp[]>();
  for (const op of history) {
    validate(op);
    if (op.kind === 'get' && op.ret === Infinity) continue;
    let ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, (ops = []));
    ops.push(op);
  }
  for (const [key, ops] of byKey) {
    const result = checkKey(key, ops);
    if (!result.ok) return result;
  }
  return { ok: true };
}

function validate(op: KvOp): void {
  const where = `op ${describe(op)}`;
  if (!Number.isFinite(op.call)) throw new Error(`${where}: call time must be finite`);
  if (Number.isNaN(op.ret) || op.ret < op.call) throw new Error(`${where}: ret must be >= call`);
  if (op.kind === 'put' && typeof op.value !== 'string') throw new Error(`${where}: put needs a value`);
  if (op.kind === 'cas' && typeof op.value !== 'string') throw new Error(`${where}: cas needs a value`);
  if (op.ret === Infinity) return; // outputs of pending ops are unknown and ignored
  if (op.kind === 'get' && op.output !== null && typeof op.output !== 'string') {
    throw new Error(`${where}: a completed get needs output string | null`);
  }
  if (op.kind === 'cas' && typeof op.output !== 'boolean') {
    throw new Error(`${where}: a completed cas needs a boolean output`);
  }
}

// ---- sequential model -------------------------------------------------------------------------------
//
// Pending puts/cas are where a plain Wing & Gong search blows up: each stays open to the end of the
// history, so k of them can be linearized in 2^k subsets at many points and the memo cache, keyed on the
// set, stops merging anything. Because a pending op never returned, nothing is ordered after it in real
// time: it may be deleted from a linearization, or moved later in it, whenever the sequence stays legal.
// Doing that repeatedly turns any linearization into one where every pending op changes the state and is
// immediately followed by an op that NEEDS that change: a get reading it, a cas expecting it, a pending
// cas that it enables, or a failed cas that would have succeeded on the state before the pending op.
// (A put next overwrites it, and any other failed cas accepts the earlier state just as well.)
// The search only looks for linearizations of that shape, so each step also sees `beforePending`: the
// state before the previous op if that op was pending, else NOT_AFTER_PENDING. It is part of the memo key.

// Model states are interned: 0 is "key absent", 1.. are the distinct strings seen in this key's history.
// Every operation then becomes a tiny function on small integers, and a cache entry compares in O(1).
const ABSENT = 0;
const REJECTED = -1;
const NOT_AFTER_PENDING = -1;

/** Applies an op to a model state: the next state, or REJECTED if the output is impossible or not needed. */
type Step = (state: number, beforePending: number) => number;

interface Model {
  steps: Step[];
  valueCount: number;
  valueName: (id: number) => string;
}

function compileModel(ops: readonly KvOp[]): Model {
  const ids = new Map<string, number>();
  const names: string[] = ['(absent)'];
  const intern = (v: string | null | undefined): number => {
    if (v === null || v === undefined) return ABSENT;
    let id = ids.get(v);
    if (id === undefined) {
      id = names.length;
      ids.set(v, id);
      names.push(JSON.stringify(v));
    }
    return id;
  };
  const steps = ops.map((op): Step => {
    const pending = op.ret === Infinity;
    switch (op.kind) {
      case 'put': {
        const written = intern(op.value);
        if (pending) return (s, b) => (s === written || b !== NOT_AFTER_PENDING ? REJECTED : written);
        return (_s, b) => (b !== NOT_AFTER_PENDING ? REJECTED : written);
      }
      case 'get': {
        const read = intern(op.output as string | null);
        return (s) => (s === read ? s : REJECTED);
      }
      case 'cas': {
        const expected = intern(op.expected);
        const next = intern(op.value);
        if (pending) return (s) => (s === expected && next !== s ? next : REJECTED);
        if (op.output === true) return (s) => (s === expected ? next : REJECTED);
        return (s, b) => (s !== expected && (b === NOT_AFTER_PENDING || b === expected) ? s : REJECTED);
      }
    }
  });
  return { steps, valueCount: names.length, valueName: (id) => names[id] };
}

// ---- event list -------------------------------------------------------------------------------------

interface Event {
  op: number; // index into the key's ops
  isCall: boolean;
  match: Event | null; // for a call: its return event
  prev: Event | null;
  next: Event | null;
}

/** Builds the time-ordered event list behind a sentinel head. At equal times calls sort first (concurrent). */
function buildEvents(ops: readonly KvOp[]): Event {
  const raw: { time: number; isCall: boolean; op: number }[] = [];
  ops.forEach((op, i) => {
    raw.push({ time: op.call, isCall: true, op: i });
    raw.push({ time: op.ret, isCall: false, op: i });
  });
  raw.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
  const head: Event = { op: -1, isCall: false, match: null, prev: null, next: null };
  const callOf = new Map<number, Event>();
  let tail = head;
  for (const r of raw) {
    const ev: Event = { op: r.op, isCall: r.isCall, match: null, prev: tail, next: null };
    tail.next = ev;
    tail = ev;
    if (r.isCall) callOf.set(r.op, ev);
    else callOf.get(r.op)!.match = ev;
  }
  return head;
}

/** Unlinks a call and its return (the op is linearized); they keep their own links for `unlift`. */
function lift(call: Event): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Undoes `lift` in reverse order, so the saved neighbour links are valid again. */
function unlift(call: Event): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

// ---- memo cache of (linearized set, model state) ----------------------------------------------------

/**
 * The set of linearized ops as a bitset plus an incrementally maintained Zobrist hash (XOR of a random
 * word per member), so that adding/removing an op and hashing the set are O(1).
 */
class OpSet {
  readonly words: Uint32Array;
  hash = 0;
  constructor(
    size: number,
    private readonly zobrist: Uint32Array,
  ) {
    this.words = new Uint32Array((size + 31) >>> 5);
  }
  toggle(op: number): void {
    this.words[op >>> 5] ^= 1 << (op & 31);
    this.hash ^= this.zobrist[op];
  }
}

class SeenCache {
  private readonly buckets = new Map<number, { words: Uint32Array; state: number }[]>();
  size = 0;

  /** Records (set, state key); returns false if it was already present (that branch is already explored). */
  add(set: OpSet, state: number): boolean {
    const key = (set.hash ^ Math.imul(state + 1, 0x9e3779b1)) >>> 0;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) this.buckets.set(key, (bucket = []));
    for (const seen of bucket) {
      if (seen.state === state && sameWords(seen.words, set.words)) return false;
    }
    bucket.push({ words: set.words.slice(), state });
    this.size++;
    return true;
  }
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Deterministic random words for the Zobrist hash (mulberry32): results must not vary run to run. */
function zobristTable(size: number): Uint32Array {
  const table = new Uint32Array(size);
  let seed = 0x2545f491;
  for (let i = 0; i < size; i++) {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    table[i] = (t ^ (t >>> 14)) >>> 0;
  }
  return table;
}

// ---- the search -------------------------------------------------------------------------------------

/**
 * Drops pending puts/cas whose written value nothing can observe: no get reading it, no cas expecting it
 * and no failed cas (which any other value explains) returns after the op's call. By the rewrites above,
 * such an op is followed in any linearization by a put, a no-op or the end, so it can always be deleted.
 * Besides shrinking the search, this stops unobservable pending calls from lingering at the head of the
 * event list, where every step of the search would try them again.
 */
function withoutUnobservablePending(ops: readonly KvOp[]): KvOp[] {
  const lastObserved = new Map<string, number>(); // value -> latest ret of an op that can observe it
  let lastFailedCas = -Infinity;
  const observe = (value: string, ret: number) =>
    lastObserved.set(value, Math.max(ret, lastObserved.get(value) ?? ret));
  for (const op of ops) {
    if (op.kind === 'get' && typeof op.output === 'string') observe(op.output, op.ret);
    if (op.kind === 'cas' && op.expected !== undefined) observe(op.expected, op.ret);
    if (op.kind === 'cas' && op.output === false) lastFailedCas = Math.max(lastFailedCas, op.ret);
  }
  return ops.filter(
    (op) =>
      op.ret !== Infinity ||
      op.call <= lastFailedCas ||
      op.call <= (lastObserved.get(op.value as string) ?? -Infinity),
  );
}

function checkKey(key: string, allOps: readonly KvOp[]): LinearizabilityResult {
  const ops = withoutUnobservablePending(allOps);
  const { steps, valueCount, valueName } = compileModel(ops);
  const head = buildEvents(ops);
  const linearized = new OpSet(ops.length, zobristTable(ops.length));
  const cache = new SeenCache();
  const pending = ops.map((op) => op.ret === Infinity);
  const stack: { call: Event; stateBefore: number; beforePendingBefore: number }[] = [];
  let state = ABSENT;
  let beforePending = NOT_AFTER_PENDING; // see the sequential model above
  // Pending ops can always be linearized last (or never), so the search is done once every op that
  // returned is linearized; pending returns sort after all completed ones (time Infinity).
  let completedLeft = pending.filter((p) => !p).length;
  // The deepest dead end seen, kept to explain a failure.
  let best: { prefix: number[]; state: number; blocked: number } | null = null;

  let ev = head.next;
  while (completedLeft > 0) {
    if (ev === null) throw new Error('linearizability: event list exhausted with completed ops left');
    if (ev.isCall) {
      const call = ev;
      let next = steps[call.op](state, beforePending);
      const nextBeforePending = pending[call.op] ? state : NOT_AFTER_PENDING;
      // Look ahead before linearizing a pending op: unless some open call needs its effect next, the
      // branch dies one step later anyway, and would only have cost a cache entry. Pending ops linger at
      // the head of the list, so without this every node of the search would grow such a dead branch.
      if (next !== REJECTED && pending[call.op] && !someOpenCallAccepts(head, call, next, state, steps)) {
        next = REJECTED;
      }
      linearized.toggle(call.op);
      if (next !== REJECTED && cache.add(linearized, next * (valueCount + 1) + nextBeforePending + 1)) {
        stack.push({ call, stateBefore: state, beforePendingBefore: beforePending });
        state = next;
        beforePending = nextBeforePending;
        lift(call);
        if (!pending[call.op]) completedLeft--;
        ev = head.next; // restart from the earliest open event: any open call may go next
      } else {
        linearized.toggle(call.op); // rejected, or this (set, state, beforePending) was already explored
        ev = call.next;
      }
      continue;
    }
    // A return whose call is still in the list: that op had to take effect before now and could not.
    if (best === null || stack.length > best.prefix.length) {
      best = { prefix: stack.map((s) => s.call.op), state, blocked: ev.op };
    }
    const top = stack.pop();
    if (top === undefined) return { ok: false, reason: explain(key, ops, best, valueName) };
    const op = top.call.op;
    unlift(top.call);
    linearized.toggle(op);
    state = top.stateBefore;
    beforePending = top.beforePendingBefore;
    if (!pending[op]) completedLeft++;
    ev = top.call.next;
  }
  return { ok: true };
}

/** Whether a call other than `except`, open at the head of the list, could be linearized from `state`. */
function someOpenCallAccepts(
  head: Event,
  except: Event,
  state: number,
  beforePending: number,
  steps: Step[],
): boolean {
  for (let e = head.next; e !== null && e.isCall; e = e.next) {
    if (e !== except && steps[e.op](state, beforePending) !== REJECTED) return true;
  }
  return false;
}

// ---- reporting --------------------------------------------------------------------------------------

const PREFIX_TAIL = 6;

function explain(
  key: string,
  ops: readonly KvOp[],
  best: { prefix: number[]; state: number; blocked: number },
  valueName: (id: number) => string,
): string {
  const { prefix, state, blocked } = best;
  const shown = prefix.slice(-PREFIX_TAIL).map((i) => describe(ops[i]));
  const elided = prefix.length > PREFIX_TAIL ? `... ${prefix.length - PREFIX_TAIL} earlier, ` : '';
  const prefixText = prefix.length === 0 ? 'empty' : `${elided}${shown.join(', ')}`;
  // Ops that overlap the blocked op's window are the ones whose order the search tried to change.
  const blockedOp = ops[blocked];
  const inPrefix = new Set(prefix);
  const rivals = ops
    .filter((op, i) => i !== blocked && !inPrefix.has(i) && op.call <= blockedOp.ret)
    .slice(0, PREFIX_TAIL)
    .map(describe);
  return (
    `key ${JSON.stringify(key)}: history of ${ops.length} ops is not linearizable. ` +
    `Longest linearizable prefix (${prefix.length} ops): ${prefixText}; value after it: ${valueName(state)}. ` +
    `Then ${describe(blockedOp)} cannot take effect before it returned` +
    (rivals.length > 0 ? `, whichever of the concurrent ops ${rivals.join(', ')} go first.` : '.')
  );
}

function describe(op: KvOp): string {
  const args =
    op.kind === 'put'
      ? JSON.stringify(op.value)
      : op.kind === 'cas'
        ? `${op.expected === undefined ? '(absent)' : JSON.stringify(op.expected)} -> ${JSON.stringify(op.value)}`
        : '';
  const out =
    op.ret === Infinity
      ? ' -> ?'
      : op.kind === 'get'
        ? ` -> ${op.output === null ? '(absent)' : JSON.stringify(op.output)}`
        : op.kind === 'cas'
          ? ` -> ${String(op.output)}`
          : '';
  return `c${op.clientId} ${op.kind}(${args})${out} [${op.call}, ${op.ret === Infinity ? 'never' : op.ret}]`;
}
