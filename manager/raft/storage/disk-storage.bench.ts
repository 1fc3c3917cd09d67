// Raft storage write throughput and latency: DiskStorage (LMDB) and WalStorage synced saves of 256-byte entries with 1 writer
// and with 64 concurrent writers (group commit), next to the plain reference of appending the same bytes
// to a file with fs.writeSync + fsyncSync (and fdatasyncSync, what LMDB itself calls) once per entry.
// A third DiskStorage case keeps 1 writer saving while a 10,000-entry log is compacted, to show what a
// compaction costs the saves around it. CPU time per entry is printed because, unlike wall time, it
// hardly depends on how busy the shared disk is.
//
//   npm run bench:raft-storage -- [seconds per case and round, default 1] [directory, default the OS temp dir]

import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskStorage } from './disk-storage.js';
import { WalStorage } from './wal-storage.js';
import { EntryType, type Entry } from '../types.js';

const ENTRY_BYTES = 256;
const COMPACT_ENTRIES = 10_000;
const seconds = Number(process.argv[2] ?? 1);
const baseDir = process.argv[3] ?? tmpdir();

interface Result {
  name: string;
  entries: number;
  fsyncs: number;
  elapsed: number;
  cpuMicros: number;
  /** Per-save (or per-write) latencies in ms. */
  latencies: number[];
}

function freshDir(): string {
  return mkdtempSync(join(baseDir, 'swl-bench-raftstore-'));
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const data = new Uint8Array(ENTRY_BYTES).fill(0xab);
const entryAt = (index: number): Entry => ({ index, term: 1, type: EntryType.Normal, data });

/** `writers` concurrent writers saving one entry each per synced save; with `compactLog`, the log
 * first holds COMPACT_ENTRIES entries and a snapshot, and the run starts by compacting all of them. */
async function diskStorageCase(
  name: string,
  writers: number,
  compactLog = false,
  layout: 'lmdb' | 'wal' = 'lmdb',
): Promise<Result> {
  const dir = freshDir();
  const storage = layout === 'wal' ? await WalStorage.open(dir) : await DiskStorage.open(dir);
  // Saves and fsyncs as each layout counts them (the WAL calls its fsyncs fdatasyncs).
  const stats = (): { saves: number; fsyncs: number } => {
    const st = storage.stats();
    return { saves: st.saves, fsyncs: 'fsyncs' in st ? st.fsyncs : st.fdatasyncs };
  };
  let next = 1;
  if (compactLog) {
    for (let i = 0; i < COMPACT_ENTRIES; i += 500) {
      const batch = Array.from({ length: 500 }, () => entryAt(next++));
      await storage.save({ entries: batch, hardState: { term: 1, vote: 1, commit: next - 1 } }, true);
    }
    await storage.createSnapshot(next - 1, { voters: [1], learners: [] }, new Uint8Array(64));
  }
  const base = stats();
  const latencies: number[] = [];
  const cpu0 = cpuMicros();
  const start = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  const compaction = compactLog ? storage.compact(next - 1) : Promise.resolve();
  async function writer(): Promise<void> {
    while (Date.now() < deadline) {
      const index = next++;
      const t = performance.now();
      await storage.save(
        { entries: [entryAt(index)], hardState: { term: 1, vote: 1, commit: index - 1 } },
        true,
      );
      latencies.push(performance.now() - t);
    }
  }
  await Promise.all([compaction, ...Array.from({ length: writers }, writer)]);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = cpuMicros() - cpu0;
  const st = stats();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    name,
    entries: st.saves - base.saves,
    fsyncs: st.fsyncs - base.fsyncs,
    elapsed,
    cpuMicros: cpu,
    latencies,
  };
}

function plainFileCase(name: string, sync: (fd: number) => void): Result {
  const dir = freshDir();
  const fd = openSync(join(dir, 'log'), 'a');
  const record = Buffer.alloc(ENTRY_BYTES + 16, 0xab); // the entry plus an index/term header
  const latencies: number[] = [];
  const cpu0 = cpuMicros();
  const start = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const t = performance.now();
    writeSync(fd, record);
    sync(fd);
    latencies.push(performance.now() - t);
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = cpuMicros() - cpu0;
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  const n = latencies.length;
  return { name, entries: n, fsyncs: n, elapsed, cpuMicros: cpu, latencies };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function row(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(44) : c.padStart(11))).join('');
}

// The disk is shared and its speed drifts: cases take turns in short rounds and their totals are compared.
const rounds = 3;
const cases: (() => Promise<Result> | Result)[] = [
  () => plainFileCase('fs.writeSync + fsyncSync per entry', fsyncSync),
  () => plainFileCase('fs.writeSync + fdatasyncSync per entry', fdatasyncSync),
  () => diskStorageCase('DiskStorage, 1 writer', 1),
  () => diskStorageCase('DiskStorage, 64 writers', 64),
  () => diskStorageCase(`DiskStorage, 1 writer, compacting ${COMPACT_ENTRIES / 1000}k`, 1, true),
  () => diskStorageCase('WalStorage, 1 writer', 1, false, 'wal'),
  () => diskStorageCase('WalStorage, 64 writers', 64, false, 'wal'),
];
const totals: Result[] = [];
for (let r = 0; r < rounds; r++) {
  for (const [i, run] of cases.entries()) {
    const res = await run();
    const t = (totals[i] ??= { ...res, entries: 0, fsyncs: 0, elapsed: 0, cpuMicros: 0, latencies: [] });
    t.entries += res.entries;
    t.fsyncs += res.fsyncs;
    t.elapsed += res.elapsed;
    t.cpuMicros += res.cpuMicros;
    t.latencies.push(...res.latencies);
  }
}

const refRate = totals[0].entries / totals[0].elapsed;
console.log(
  `raft storage: synced appends of ${ENTRY_BYTES}-byte entries, ${rounds} x ${seconds} s per case, in ${baseDir}`,
);
console.log(
  row(['case', 'entries/s', 'fsyncs/s', 'ents/fsync', 'vs ref', 'p50 ms', 'p99 ms', 'max ms', 'cpu µs/ent']),
);
for (const r of totals) {
  const eps = r.entries / r.elapsed;
  const sorted = r.latencies.sort((a, b) => a - b);
  console.log(
    row([
      r.name,
      eps.toFixed(0),
      (r.fsyncs / r.elapsed).toFixed(0),
      (r.entries / Math.max(1, r.fsyncs)).toFixed(1),
      `${(eps / refRate).toFixed(2)}x`,
      percentile(sorted, 0.5).toFixed(2),
      percentile(sorted, 0.99).toFixed(2),
      sorted[sorted.length - 1].toFixed(2),
      (r.cpuMicros / Math.max(1, r.entries)).toFixed(0),
    ]),
  );
}
