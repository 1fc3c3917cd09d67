import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkLinearizable, type KvOp } from './linearizability.js';

const NEVER = Infinity;

function put(clientId: number, key: string, value: string, call: number, ret: number): KvOp {
  return { clientId, kind: 'put', key, value, call, ret };
}
function get(clientId: number, key: string, output: string | null, call: number, ret: number): KvOp {
  return { clientId, kind: 'get', key, output, call, ret };
}
function cas(
  clientId: number,
  key: string,
  expected: string | undefined,
  value: string,
  output: boolean | undefined,
  call: number,
  ret: number,
): KvOp {
  return { clientId, kind: 'cas', key, expected, value, output, call, ret };
}

interface Case {
  name: string;
  history: KvOp[];
  ok: boolean;
  /** Substrings the failure reason must contain. */
  reasonHas?: string[];
}

const cases: Case[] = [
  // sequential
  { name: 'empty history', history: [], ok: true },
  { name: 'read of a never-written key is absent', history: [get(1, 'x', null, 0, 1)], ok: true },
  {
    name: 'sequential put, put, get latest',
    history: [put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 3), get(2, 'x', 'b', 4, 5)],
    ok: true,
  },
  {
    name: 'sequential cas chain from absent',
    history: [
      cas(1, 'x', undefined, 'a', true, 0, 1),
      cas(1, 'x', undefined, 'b', false, 2, 3),
      cas(2, 'x', 'a', 'b', true, 4, 5),
      get(1, 'x', 'b', 6, 7),
    ],
    ok: true,
  },
  // concurrent, several valid orders
  {
    name: 'read during a write may see the old value',
    history: [put(1, 'x', 'a', 0, 10), get(2, 'x', null, 1, 2), get(2, 'x', 'a', 3, 4)],
    ok: true,
  },
  {
    name: 'two overlapping puts: either may win',
    history: [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 1, 9), get(3, 'x', 'a', 11, 12)],
    ok: true,
  },
  {
    name: 'two overlapping puts: the other may win too',
    history: [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 1, 9), get(3, 'x', 'b', 11, 12)],
    ok: true,
  },
  {
    name: 'concurrent cas from absent: one wins, one loses',
    history: [
      cas(1, 'x', undefined, 'a', false, 0, 10),
      cas(2, 'x', undefined, 'b', true, 0, 10),
      get(3, 'x', 'b', 11, 12),
    ],
    ok: true,
  },
  {
    name: 'equal timestamps count as concurrent',
    history: [put(1, 'x', 'a', 0, 5), get(2, 'x', null, 5, 6)],
    ok: true,
  },
  // classic violations
  {
    name: 'stale read after a completed write',
    history: [put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 3), get(2, 'x', 'a', 4, 5)],
    ok: false,
    reasonHas: ['key "x"', 'c2 get() -> "a" [4, 5]', 'value after it: "b"'],
  },
  {
    name: 'read of a value never written',
    history: [put(1, 'x', 'a', 0, 1), get(2, 'x', 'zzz', 0, 5)],
    ok: false,
    reasonHas: ['get() -> "zzz"'],
  },
  {
    name: 'read goes back in time during a write',
    history: [put(1, 'x', 'a', 0, 10), get(2, 'x', 'a', 1, 2), get(2, 'x', null, 3, 4)],
    ok: false,
  },
  {
    name: 'two readers see concurrent writes in contradicting orders',
    history: [
      put(1, 'x', 'a', 0, 20),
      put(2, 'x', 'b', 0, 20),
      get(3, 'x', 'a', 1, 2),
      get(3, 'x', 'b', 3, 4),
      get(4, 'x', 'b', 1, 2),
      get(4, 'x', 'a', 3, 4),
    ],
    ok: false,
  },
  {
    name: 'cas succeeding on a wrong expected value',
    history: [put(1, 'x', 'a', 0, 1), cas(2, 'x', 'b', 'c', true, 2, 3)],
    ok: false,
    reasonHas: ['c2 cas("b" -> "c") -> true [2, 3]'],
  },
  {
    name: 'cas failing although the expected value was there',
    history: [put(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'c', false, 2, 3)],
    ok: false,
  },
  {
    name: 'two concurrent cas from absent both succeed',
    history: [cas(1, 'x', undefined, 'a', true, 0, 10), cas(2, 'x', undefined, 'b', true, 0, 10)],
    ok: false,
  },
  // pending ops (never returned)
  {
    name: 'pending put that took effect',
    history: [put(1, 'x', 'a', 0, NEVER), get(2, 'x', 'a', 5, 6)],
    ok: true,
  },
  {
    name: 'pending put that did not take effect',
    history: [put(1, 'x', 'a', 0, NEVER), get(2, 'x', null, 5, 6), get(2, 'x', null, 100, 101)],
    ok: true,
  },
  {
    name: 'pending put may take effect after a later completed put',
    history: [put(1, 'x', 'a', 0, NEVER), put(2, 'x', 'b', 1, 2), get(2, 'x', 'a', 3, 4)],
    ok: true,
  },
  {
    name: 'pending put cannot take effect before its call',
    history: [get(2, 'x', 'a', 0, 1), put(1, 'x', 'a', 2, NEVER)],
    ok: false,
  },
  {
    name: 'pending put cannot be undone once observed',
    history: [put(1, 'x', 'a', 0, NEVER), get(2, 'x', 'a', 5, 6), get(2, 'x', null, 7, 8)],
    ok: false,
  },
  {
    name: 'pending cas swaps when it matches',
    history: [put(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'b', undefined, 2, NEVER), get(3, 'x', 'b', 10, 11)],
    ok: true,
  },
  {
    name: 'pending cas cannot swap on a mismatch',
    history: [put(1, 'x', 'a', 0, 1), cas(2, 'x', 'z', 'b', undefined, 2, NEVER), get(3, 'x', 'b', 10, 11)],
    ok: false,
  },
  {
    name: 'pending put explains a failed cas',
    history: [put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, NEVER), cas(3, 'x', 'a', 'c', false, 3, 4)],
    ok: true,
  },
  {
    name: 'pending put cannot explain both a failed cas and a later read of the old value',
    history: [
      put(1, 'x', 'a', 0, 1),
      put(2, 'x', 'b', 2, NEVER),
      cas(3, 'x', 'a', 'c', false, 3, 4),
      get(3, 'x', 'a', 5, 6),
    ],
    ok: false,
  },
  {
    name: 'chain of pending ops: a pending put enables a pending cas',
    history: [
      put(1, 'x', 'a', 0, 1),
      put(2, 'x', 'b', 2, NEVER),
      cas(3, 'x', 'b', 'c', undefined, 2, NEVER),
      get(4, 'x', 'c', 5, 6),
    ],
    ok: true,
  },
  {
    name: 'each pending op takes effect at most once',
    history: [
      put(1, 'x', 'a', 0, NEVER),
      put(2, 'x', 'b', 1, 2),
      get(3, 'x', 'a', 3, 4),
      put(2, 'x', 'c', 5, 6),
      get(3, 'x', 'a', 7, 8),
    ],
    ok: false,
  },
  {
    // Found by the arbitrary-history fuzz below against a memo that ignored which pending ops were spent.
    name: 'a branch that spends pending ops does not hide one that keeps them for later',
    history: [
      put(0, 'x', 'a', 8, NEVER),
      cas(1, 'x', 'a', 'a', true, 3, 3),
      put(2, 'x', 'a', 0, NEVER),
      cas(3, 'x', 'a', 'b', undefined, 1, NEVER),
      cas(4, 'x', 'b', 'b', true, 0, 2),
      cas(5, 'x', undefined, 'b', undefined, 2, NEVER),
    ],
    ok: true,
  },
  {
    // Found the same way, against a memo that let a node with MORE spent pending ops prune one with fewer.
    name: 'a pending op kept for the end is not pruned by a branch that spent it early',
    history: [
      cas(0, 'x', 'b', 'a', true, 6, 7),
      put(1, 'x', 'a', 7, NEVER),
      put(2, 'x', 'b', 1, NEVER),
      put(3, 'x', 'a', 2, 8),
      put(4, 'x', 'b', 0, 1),
      cas(5, 'x', 'b', 'a', true, 9, 13),
    ],
    ok: true,
  },
  {
    name: 'two pending writes of values nobody reads explain two failed cas',
    history: [
      put(1, 'x', 'a', 0, 1),
      put(2, 'x', 'u1', 2, NEVER),
      put(3, 'x', 'u2', 2, NEVER),
      cas(4, 'x', 'a', 'b', false, 3, 4),
      put(1, 'x', 'a', 5, 6),
      cas(4, 'x', 'a', 'b', false, 7, 8),
    ],
    ok: true,
  },
  {
    name: 'one pending write of a value nobody reads cannot explain two failed cas',
    history: [
      put(1, 'x', 'a', 0, 1),
      put(2, 'x', 'u1', 2, NEVER),
      cas(4, 'x', 'a', 'b', false, 3, 4),
      put(1, 'x', 'a', 5, 6),
      cas(4, 'x', 'a', 'b', false, 7, 8),
    ],
    ok: false,
    reasonHas: ['c4 cas("a" -> "b") -> false [7, 8]'],
  },
  {
    name: 'pending gets are dropped whatever they carry',
    history: [get(1, 'x', 'garbage', 0, NEVER), get(2, 'x', null, 1, 2)],
    ok: true,
  },
  // multi-key
  {
    name: 'keys are independent',
    history: [
      put(1, 'x', 'a', 0, 10),
      put(2, 'y', 'b', 0, 10),
      get(3, 'x', 'a', 11, 12),
      get(3, 'y', 'b', 13, 14),
    ],
    ok: true,
  },
  {
    name: 'a write to one key is not visible under another',
    history: [put(1, 'x', 'a', 0, 1), get(2, 'y', 'a', 2, 3)],
    ok: false,
    reasonHas: ['key "y"'],
  },
  {
    name: 'only the violated key is reported',
    history: [
      put(1, 'x', 'a', 0, 1),
      put(1, 'y', 'a', 2, 3),
      get(2, 'x', 'a', 4, 5),
      put(1, 'y', 'b', 6, 7),
      get(2, 'y', 'a', 8, 9),
    ],
    ok: false,
    reasonHas: ['key "y"', 'c2 get() -> "a" [8, 9]'],
  },
];

describe('checkLinearizable: table', () => {
  for (const c of cases) {
    it(c.name, () => {
      const result = checkLinearizable(c.history);
      assert.equal(result.ok, c.ok, result.ok ? 'expected a violation' : result.reason);
      if (!result.ok) {
        for (const s of c.reasonHas ?? [])
          assert.ok(result.reason.includes(s), `"${s}" not in: ${result.reason}`);
      }
    });
  }

  it('rejects malformed ops instead of guessing', () => {
    assert.throws(() => checkLinearizable([put(1, 'x', 'a', 5, 4)]), /ret must be >= call/);
    assert.throws(
      () => checkLinearizable([{ clientId: 1, kind: 'get', key: 'x', call: 0, ret: 1 }]),
      /get needs/,
    );
    assert.throws(() => checkLinearizable([cas(1, 'x', 'a', 'b', undefined, 0, 1)]), /boolean output/);
  });
});

// ---- randomized histories from real sequential executions ---------------------------------------------

/** Small deterministic PRNG (mulberry32): failures must reproduce from the seed. */
function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n;
  };
}

interface GenOptions {
  ops: number;
  clients: number;
  keys: number;
  spread: number; // how far call/ret stray from the linearization point
  pendingRate: number;
  /** Draw written values from this many (so values repeat); unique values when absent. */
  distinctValues?: number;
}

/**
 * Runs random ops against a real sequential store. Op i takes effect at an instant t_i (strictly
 * increasing); its call and return are drawn around t_i without overlapping the same client's previous op.
 * The recorded history is therefore linearizable by construction (the t_i order is a witness).
 */
function generate(seed: number, o: GenOptions): KvOp[] {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd(n));
  const store = new Map<string, string>();
  const written = new Map<string, string[]>();
  const busyUntil = new Array<number>(o.clients).fill(-1);
  const clientIds = Array.from({ length: o.clients }, (_, i) => i + 1);
  let nextClientId = o.clients + 1;
  const history: KvOp[] = [];
  let t = 0;
  for (let i = 0; i < o.ops; i++) {
    let slot: number;
    do {
      t += 1 + int(4);
      const free = busyUntil.map((b, s) => (b < t ? s : -1)).filter((s) => s >= 0);
      slot = free.length > 0 ? free[int(free.length)] : -1;
    } while (slot < 0);
    const key = `k${int(o.keys)}`;
    const call = Math.max(busyUntil[slot], t - int(o.spread));
    const pending = rnd(1) < o.pendingRate;
    const ret = pending ? NEVER : t + int(o.spread);
    const takesEffect = !pending || rnd(1) < 0.5;
    const clientId = clientIds[slot];
    const current = store.get(key);
    const choice = rnd(3);
    let op: KvOp;
    if (choice < 1) {
      op = get(clientId, key, current ?? null, call, ret);
    } else {
      const value = o.distinctValues ? `v${int(o.distinctValues)}` : `v${i}`;
      if (choice < 2) {
        op = put(clientId, key, value, call, ret);
        if (takesEffect) store.set(key, value);
      } else {
        const pool = written.get(key) ?? [];
        const expected = rnd(1) < 0.5 ? current : rnd(1) < 0.2 ? undefined : pool[int(pool.length)];
        const swaps = expected === current;
        op = cas(clientId, key, expected, value, pending ? undefined : swaps, call, ret);
        if (takesEffect && swaps) store.set(key, value);
      }
      written.set(key, [...(written.get(key) ?? []), value]);
    }
    history.push(op);
    if (pending) {
      // The client crashed or gave up: a fresh client takes its slot from now on.
      busyUntil[slot] = t;
      clientIds[slot] = nextClientId++;
    } else {
      busyUntil[slot] = ret;
    }
  }
  return history;
}

/**
 * Oracle for small histories: tries every order that respects real time (p before o when p.ret < o.call),
 * on a direct string model. Pending ops may be placed anywhere after their call, or left out.
 */
function bruteForceLinearizable(history: KvOp[]): boolean {
  const keys = new Set(history.map((op) => op.key));
  for (const key of keys) {
    const ops = history.filter((op) => op.key === key && !(op.kind === 'get' && op.ret === NEVER));
    const search = (left: KvOp[], value: string | undefined): boolean => {
      if (left.every((op) => op.ret === NEVER)) return true;
      for (const op of left) {
        if (left.some((p) => p.ret < op.call)) continue;
        let next = value;
        if (op.kind === 'put') next = op.value;
        else if (op.kind === 'get' && op.output !== (value ?? null)) continue;
        else if (op.kind === 'cas') {
          const matches = op.expected === value;
          if (op.ret !== NEVER && op.output !== matches) continue;
          if (matches) next = op.value;
        }
        if (
          search(
            left.filter((p) => p !== op),
            next,
          )
        )
          return true;
      }
      return false;
    };
    if (!search(ops, undefined)) return false;
  }
  return true;
}

/** Flips one completed op's output to another plausible value (the result may or may not stay valid). */
function corruptOne(history: KvOp[], seed: number): KvOp[] {
  const rnd = prng(seed);
  const candidates = history
    .map((_op, i) => i)
    .filter((i) => history[i].ret !== NEVER && history[i].kind !== 'put');
  if (candidates.length === 0) return history;
  const i = candidates[Math.floor(rnd(candidates.length))];
  const op = { ...history[i] };
  if (op.kind === 'cas') op.output = !op.output;
  else {
    const values = [
      null,
      ...history.filter((p) => p.key === op.key && p.value !== undefined).map((p) => p.value!),
    ];
    const others = values.filter((v) => v !== op.output);
    op.output = others.length > 0 ? others[Math.floor(rnd(others.length))] : 'never-written';
  }
  return history.map((p, j) => (j === i ? op : p));
}

describe('checkLinearizable: randomized', () => {
  it('agrees with a brute-force oracle on small valid and corrupted histories', () => {
    let violations = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const valid = generate(seed, { ops: 7, clients: 3, keys: 2, spread: 12, pendingRate: 0.15 });
      assert.ok(bruteForceLinearizable(valid), `generator produced an invalid history (seed ${seed})`);
      assert.deepEqual(checkLinearizable(valid), { ok: true }, `seed ${seed}`);
      const corrupted = corruptOne(valid, seed);
      const expected = bruteForceLinearizable(corrupted);
      if (!expected) violations++;
      assert.equal(checkLinearizable(corrupted).ok, expected, `seed ${seed}: ${JSON.stringify(corrupted)}`);
    }
    // The comparison is only meaningful if corruption often yields real violations.
    assert.ok(violations > 100, `only ${violations} corrupted histories were violations`);
  });

  it('agrees with the oracle on one hot key with many pending ops and repeated values', () => {
    for (let seed = 5000; seed < 5400; seed++) {
      const distinctValues = seed % 2 === 0 ? 2 : undefined;
      const valid = generate(seed, {
        ops: 8,
        clients: 3,
        keys: 1,
        spread: 12,
        pendingRate: 0.4,
        distinctValues,
      });
      assert.deepEqual(checkLinearizable(valid), { ok: true }, `seed ${seed}`);
      const corrupted = corruptOne(valid, seed);
      const expected = bruteForceLinearizable(corrupted);
      assert.equal(checkLinearizable(corrupted).ok, expected, `seed ${seed}: ${JSON.stringify(corrupted)}`);
    }
  });

  it('agrees with the oracle on arbitrary tiny histories over two values', () => {
    // Not generated from an execution: random ops with random outputs, about half of them violations.
    // Few values (and "c", which nobody reads) and many pending ops make the search's pruning rules matter.
    const rnd = prng(42);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd(xs.length))];
    let violations = 0;
    const runs = 30_000;
    for (let run = 0; run < runs; run++) {
      const history: KvOp[] = [];
      const n = 3 + Math.floor(rnd(5));
      for (let c = 0; c < n; c++) {
        const call = Math.floor(rnd(10));
        const ret = rnd(1) < 0.4 ? NEVER : call + Math.floor(rnd(8));
        const kind = pick(['get', 'put', 'cas'] as const);
        if (kind === 'get') history.push(get(c, 'x', pick(['a', 'b', null]), call, ret));
        else if (kind === 'put') history.push(put(c, 'x', pick(['a', 'b', 'c']), call, ret));
        else {
          const output = ret === NEVER ? undefined : rnd(1) < 0.5;
          history.push(cas(c, 'x', pick(['a', 'b', undefined]), pick(['a', 'b', 'c']), output, call, ret));
        }
      }
      const expected = bruteForceLinearizable(history);
      if (!expected) violations++;
      assert.equal(checkLinearizable(history).ok, expected, `run ${run}: ${JSON.stringify(history)}`);
    }
    assert.ok(violations > runs / 5 && violations < (runs * 4) / 5, `${violations} violations`);
  });

  it('accepts larger histories valid by construction and rejects provable corruptions', () => {
    let caught = 0;
    let detected = 0;
    const runs = 60;
    for (let seed = 1000; seed < 1000 + runs; seed++) {
      const history = generate(seed, { ops: 150, clients: 5, keys: 3, spread: 30, pendingRate: 0.03 });
      const result = checkLinearizable(history);
      assert.ok(result.ok, `seed ${seed}: ${result.ok ? '' : result.reason}`);

      // A completed get returning a value nobody wrote can never be explained.
      const gets = history
        .map((_op, i) => i)
        .filter((i) => history[i].kind === 'get' && history[i].ret !== NEVER);
      const victim = gets[seed % gets.length];
      const ghost = history.map((op, i) => (i === victim ? { ...op, output: 'never-written' } : op));
      const ghostResult = checkLinearizable(ghost);
      assert.equal(ghostResult.ok, false, `seed ${seed}: ghost read accepted`);
      if (!ghostResult.ok) {
        assert.ok(ghostResult.reason.includes(`key "${history[victim].key}"`), ghostResult.reason);
        caught++;
      }
      if (!checkLinearizable(corruptOne(history, seed)).ok) detected++;
    }
    console.log(
      `# ghost reads caught ${caught}/${runs}; random single-output corruptions caught ${detected}/${runs}`,
    );
  });
});

describe('checkLinearizable: performance', () => {
  /** CPU time, not wall time: the test machine is shared, and waiting for a core is not the checker's cost. */
  function timed<T>(f: () => T): { result: T; ms: number } {
    const before = process.cpuUsage();
    const result = f();
    const { user, system } = process.cpuUsage(before);
    return { result, ms: (user + system) / 1000 };
  }

  const configs = [
    { keys: 3, pendingRate: 0.01 },
    { keys: 3, pendingRate: 0.1 },
    { keys: 1, pendingRate: 0 },
  ];
  for (const { keys, pendingRate } of configs) {
    it(`checks a 2,000-op, 5-client history on ${keys} key(s), ${pendingRate * 100}% pending, without a blow-up (well under 20 s of CPU)`, () => {
      const history = generate(7, { ops: 2000, clients: 5, keys, spread: 40, pendingRate });
      const { result, ms: validMs } = timed(() => checkLinearizable(history));
      assert.ok(result.ok, result.ok ? '' : result.reason);

      // A violation at the very end forces the search to exhaust every earlier alternative.
      const lastGet = history.findLastIndex((op) => op.kind === 'get' && op.ret !== NEVER);
      const corrupted = history.map((op, i) => (i === lastGet ? { ...op, output: 'never-written' } : op));
      const { result: bad, ms: invalidMs } = timed(() => checkLinearizable(corrupted));
      assert.equal(bad.ok, false);

      console.log(
        `# 2000 ops, ${keys} key(s), ${pendingRate * 100}% pending: valid ${validMs.toFixed(1)} ms CPU, ` +
          `violation at the end ${invalidMs.toFixed(1)} ms CPU`,
      );
      // A guard against an exponential search, not a speed figure (~100 ms each on an idle machine).
      assert.ok(validMs < 20_000, `valid history took ${validMs} ms`);
      assert.ok(invalidMs < 20_000, `violating history took ${invalidMs} ms`);
    });
  }
});
