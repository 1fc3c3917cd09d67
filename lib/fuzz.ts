// The fuzz tests' shared pieces: a seeded generator (the same inputs on every run, so a failure is
// reproducible by its round), byte-level mutations of valid input and random buffers. The fuzz tests
// sit beside the decoders they feed (`*.fuzz.test.ts`); they are bounded for CI, and
// `SWARMLITE_FUZZ_ROUNDS=100000 node test/run.js fuzz` runs them longer.

/** Inputs per decoder and run. */
export const FUZZ_ROUNDS = Number(process.env.SWARMLITE_FUZZ_ROUNDS ?? 3000);

/** mulberry32: a float in [0, 1) per call, a function of the seed alone. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One random change to a copy of `buf`: a bit flipped, a byte replaced, a tail cut or one byte added. */
export function mutate(buf: Buffer, rand: () => number): Buffer {
  const out = Buffer.from(buf);
  const kind = Math.floor(rand() * 4);
  if (kind === 0 && out.length > 0) out[Math.floor(rand() * out.length)]! ^= 1 << Math.floor(rand() * 8);
  if (kind === 1) return out.subarray(0, Math.floor(rand() * out.length));
  if (kind === 2) return Buffer.concat([out, Buffer.from([Math.floor(rand() * 256)])]);
  if (kind === 3 && out.length > 0) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256);
  return out;
}

/** Random bytes, fewer than `max`. */
export const randomBuf = (rand: () => number, max: number): Buffer =>
  Buffer.from(Array.from({ length: Math.floor(rand() * max) }, () => Math.floor(rand() * 256)));
