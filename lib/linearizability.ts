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
// Ops that never returned (pending) are what makes this blow up in practice; three additions keep them in
// check, each argued where it is implemented: the search only builds linearizations in which every
// pending op is needed by the op right after it (sequential model), unobservable pending ops are dropped
// up front, and the memo treats a node that spent fewer pending ops as dominating (memo cache).
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
//
// Values that no get reads and no cas expects are indistinguishable to every op, so they share one model
// state, UNREAD. Pending puts of such values are then interchangeable except for their call times, and
// an exchange argument shows that the ones used can be taken in call order; checkKey enforces that order.
// Without it, every failed cas that needs "some other value" would branch over all of them.

// Model states are interned: 0 is "key absent", 1 any unread value, 2.. the values some op reads.
// Every operation then becomes a tiny function on small integers, and a cache entry compares in O(1).
const ABSENT = 0;
const UNREAD = 1;
const REJECTED = -1;
const NOT_AFTER_PENDING = -1;

/** Applies an op to a model state: the next state, or REJECTED if the output is impossible or not needed. */
type Step = (state: number, beforePending: number) => number;

interface Model {
  steps: Step[];
  /** Pending puts of an unread value (interchangeable, see above). */
  unreadPendingPut: boolean[];
  valueCount: number;
}

function compileModel(ops: readonly KvOp[]): Model {
  const read = new Set<string>();
  for (const op of ops) {
    if (op.kind === 'get' && typeof op.output === 'string') read.add(op.output);
    if (op.kind === 'cas' && op.expected !== undefined) read.add(op.expected);
  }
  const ids = new Map<string, number>();
  const intern = (v: string | null | undefined): number => {
    if (v === null || v === undefined) return ABSENT;
    if (!read.has(v)) return UNREAD;
    let id = ids.get(v);
    if (id === undefined) ids.set(v, (id = ids.size + 2));
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
        const seen = intern(op.output as string | null);
        return (s) => (s === seen ? s : REJECTED);
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
  const unreadPendingPut = ops.map((op) => op.kind === 'put' && op.ret === Infinity && !read.has(op.value!));
  return { steps, unreadPendingPut, valueCount: ids.size + 2 };
}

// ---- event lists ------------------------------------------------------------------------------------

interface Event {
  op: number; // index into the key's ops
  isCall: boolean;
  match: Event | null; // for a completed op's call: its return event
  prev: Event | null;
  next: Event | null;
}

/**
 * Builds two lists behind sentinel heads: the calls and returns of completed ops in time order (at equal
 * times calls sort first, i.e. count as concurrent), and the calls of pending ops in call order. Pending
 * ops have no return to order anything, and keeping them apart lets the search try them last.
 */
function buildEvents(ops: readonly KvOp[]): { head: Event; pendingHead: Event } {
  const raw: { time: number; isCall: boolean; op: number }[] = [];
  ops.forEach((op, i) => {
    raw.push({ time: op.call, isCall: true, op: i });
    if (op.ret !== Infinity) raw.push({ time: op.ret, isCall: false, op: i });
  });
  raw.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
  const head: Event = { op: -1, isCall: false, match: null, prev: null, next: null };
  const pendingHead: Event = { op: -1, isCall: false, match: null, prev: null, next: null };
  const callOf = new Map<number, Event>();
  let tail = head;
  let pendingTail = pendingHead;
  for (const r of raw) {
    const pending = ops[r.op].ret === Infinity;
    const last = pending ? pendingTail : tail;
    const ev: Event = { op: r.op, isCall: r.isCall, match: null, prev: last, next: null };
    last.next = ev;
    if (pending) pendingTail = ev;
    else tail = ev;
    if (r.isCall) callOf.set(r.op, ev);
    else callOf.get(r.op)!.match = ev;
  }
  return { head, pendingHead };
}

function unlink(ev: Event): void {
  ev.prev!.next = ev.next;
  if (ev.next) ev.next.prev = ev.prev;
}

function relink(ev: Event): void {
  ev.prev!.next = ev;
  if (ev.next) ev.next.prev = ev;
}

/** Removes a linearized op's call (and return); the events keep their own links for `unlift`. */
function lift(call: Event): void {
  unlink(call);
  if (call.match) unlink(call.match);
}

/** Undoes `lift` in reverse order, so the saved neighbour links are valid again. */
function unlift(call: Event): void {
  if (call.match) relink(call.match);
  relink(call);
}

// ---- memo cache ---------------------------------------------------------------------------------------

/**
 * A set of ops as a bitset plus an incrementally maintained Zobrist hash (XOR of a random word per
 * member), so that adding/removing an op and hashing the set are O(1).
 */
class OpSet {
  readonly words: Uint32Array;
  private readonly zobrist: Uint32Array;
  hash = 0;
  constructor(size: number) {
    this.words = new Uint32Array((size + 31) >>> 5);
    this.zobrist = zobristTable(size);
  }
  toggle(i: number): void {
    this.words[i >>> 5] ^= 1 << (i & 31);
    this.hash ^= this.zobrist[i];
  }
}

interface Seen {
  done: Uint32Array;
  state: number;
  used: Uint32Array;
}

/**
 * Lowe's memo, extended with dominance for pending ops. A node of the search is (completed ops linearized,
 * pending ops used, model state). Two nodes with the same completed set and state have the same open calls
 * and constraints, and the one that used FEWER pending ops can do everything the other can. So a node is
 * skipped when a node with the same completed set and state and a subset of its pending ops was visited.
 * (Visited suffices: the DFS explores every child of a visited node, and the dominating node reaches the
 * same futures itself, by simply leaving the extra pending ops out.)
 */
class SeenCache {
  private readonly buckets = new Map<number, Seen[]>();

  /** Records the node; returns false if a visited node dominates it (its subtree needs no search). */
  add(done: OpSet, used: OpSet, state: number): boolean {
    const key = (done.hash ^ Math.imul(state + 1, 0x9e3779b1)) >>> 0;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) this.buckets.set(key, (bucket = []));
    let dominated = 0; // entries the new node dominates are dropped: they can no longer prune anything new
    for (let i = 0; i < bucket.length; i++) {
      const seen = bucket[i];
      const same = seen.state === state && sameWords(seen.done, done.words);
      if (same && isSubset(seen.used, used.words)) return false;
      if (same && isSubset(used.words, seen.used)) dominated++;
      else if (dominated > 0) bucket[i - dominated] = seen;
    }
    bucket.length -= dominated;
    bucket.push({ done: done.words.slice(), state, used: used.words.slice() });
    return true;
  }
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isSubset(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] & ~b[i]) !== 0) return false;
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

interface Frame {
  call: Event;
  stateBefore: number;
  beforePendingBefore: number;
  frontier: Event; // the first return in the list when this op was linearized
}

interface DeadEnd {
  prefix: number[];
  blocked: number;
}

function checkKey(key: string, allOps: readonly KvOp[]): LinearizabilityResult {
  const ops = withoutUnobservablePending(allOps);
  const { steps, unreadPendingPut, valueCount } = compileModel(ops);
  const { head, pendingHead } = buildEvents(ops);
  const pending = ops.map((op) => op.ret === Infinity);
  // Completed and pending ops are numbered separately: `done` is hashed, `used` is compared by subset.
  const slot: number[] = [];
  let completedLeft = 0;
  let pendingCount = 0;
  for (const p of pending) slot.push(p ? pendingCount++ : completedLeft++);
  // Unread pending puts are taken in call order (the pending list's order): only rank `unreadUsed` may go.
  const unreadRank = ops.map(() => -1);
  let rank = 0;
  for (let e = pendingHead.next; e !== null; e = e.next) {
    if (unreadPendingPut[e.op]) unreadRank[e.op] = rank++;
  }
  let unreadUsed = 0;
  const done = new OpSet(completedLeft);
  const used = new OpSet(pendingCount);
  const cache = new SeenCache();
  const stack: Frame[] = [];
  let state = ABSENT;
  let beforePending = NOT_AFTER_PENDING; // see the sequential model above
  let best: DeadEnd | null = null; // the deepest dead end seen, kept to explain a failure

  // Candidates at a node: the completed calls before the first return in the list (the frontier), then
  // the pending calls made no later than that return. Pending ops go last so that the branches using
  // fewer of them are visited first and dominate the others in the cache.
  let cursor: Event | null = head.next;
  let frontier = head;
  while (completedLeft > 0) {
    let candidate: Event | null = null;
    if (cursor !== null && !pending[cursor.op]) {
      if (!cursor.isCall) {
        frontier = cursor;
        cursor = pendingHead.next;
        continue;
      }
      candidate = cursor;
    } else if (cursor !== null && ops[cursor.op].call <= ops[frontier.op].ret) {
      candidate = cursor;
    }

    if (candidate === null) {
      // No candidate left: the frontier op had to take effect before it returned and cannot. Backtrack.
      if (best === null || stack.length > best.prefix.length) {
        best = { prefix: stack.map((f) => f.call.op), blocked: frontier.op };
      }
      const top = stack.pop();
      if (top === undefined) return { ok: false, reason: explain(key, allOps.length, ops, best) };
      const op = top.call.op;
      unlift(top.call);
      (pending[op] ? used : done).toggle(slot[op]);
      if (!pending[op]) completedLeft++;
      if (unreadRank[op] >= 0) unreadUsed--;
      state = top.stateBefore;
      beforePending = top.beforePendingBefore;
      frontier = top.frontier;
      cursor = top.call.next;
      continue;
    }

    const op = candidate.op;
    const unread = unreadRank[op] >= 0;
    let next = unread && unreadRank[op] !== unreadUsed ? REJECTED : steps[op](state, beforePending);
    const nextBeforePending = pending[op] ? state : NOT_AFTER_PENDING;
    // Look ahead before linearizing a pending op: unless an open call needs its effect next, the branch
    // dies one step later anyway and would only have cost a cache entry.
    if (next !== REJECTED && pending[op] && !someCandidateAccepts(candidate, next, state)) next = REJECTED;
    const set = pending[op] ? used : done;
    set.toggle(slot[op]);
    if (next !== REJECTED && cache.add(done, used, next * (valueCount + 1) + nextBeforePending + 1)) {
      stack.push({ call: candidate, stateBefore: state, beforePendingBefore: beforePending, frontier });
      lift(candidate);
      if (!pending[op]) completedLeft--;
      if (unread) unreadUsed++;
      state = next;
      beforePending = nextBeforePending;
      cursor = head.next;
    } else {
      set.toggle(slot[op]); // rejected, or dominated by a node already visited
      cursor = candidate.next;
    }
  }
  return { ok: true };

  /** Whether a candidate other than `except` could be linearized next from `s` (same frontier). */
  function someCandidateAccepts(except: Event, s: number, before: number): boolean {
    for (let e = head.next; e !== null && e.isCall; e = e.next) {
      if (steps[e.op](s, before) !== REJECTED) return true;
    }
    const limit = ops[frontier.op].ret;
    for (let e = pendingHead.next; e !== null && ops[e.op].call <= limit; e = e.next) {
      if (e !== except && steps[e.op](s, before) !== REJECTED) return true;
    }
    return false;
  }
}

// ---- reporting --------------------------------------------------------------------------------------

const PREFIX_TAIL = 6;

function explain(key: string, opCount: number, ops: readonly KvOp[], best: DeadEnd): string {
  const { prefix, blocked } = best;
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
    `key ${JSON.stringify(key)}: history of ${opCount} ops is not linearizable. ` +
    `Longest linearizable prefix (${prefix.length} ops): ${prefixText}; value after it: ${valueAfter(prefix.map((i) => ops[i]))}. ` +
    `Then ${describe(blockedOp)} cannot take effect before it returned` +
    (rivals.length > 0 ? `, whichever of the concurrent ops ${rivals.join(', ')} go first.` : '.')
  );
}

/** Replays a linearized prefix on the concrete store (the model merges values nobody reads). */
function valueAfter(prefix: readonly KvOp[]): string {
  let value: string | undefined;
  for (const op of prefix) {
    // A pending cas is only linearized when it swaps (see the sequential model).
    const swaps = op.kind === 'cas' && (op.output === true || op.ret === Infinity);
    if (op.kind === 'put' || swaps) value = op.value;
  }
  return value === undefined ? '(absent)' : JSON.stringify(value);
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
