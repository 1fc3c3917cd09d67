// Raft storage write throughput: DiskStorage synced saves of 256-byte entries with 1 writer and with
// 64 concurrent writers (group commit), next to the plain reference of appending the same bytes to a
// file with fs.writeSync + fsyncSync (and fdatasyncSync, what LMDB itself calls) once per entry.
//
//   node dist/bench/raft-storage.js [seconds per case and round, default 1] [directory, default the OS temp dir]

import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskStorage } from '../manager/raft/storage/disk-storage.js';
import { EntryType, type Entry } from '../manager/raft/types.js';

const ENTRY_BYTES = 256;
const seconds = Number(process.argv[2] ?? 1);
const baseDir = process.argv[3] ?? tmpdir();

interface Result {
  name: string;
  entries: number;
  fsyncs: number;
  elapsed: number;
}

function freshDir(): string {
  return mkdtempSync(join(baseDir, 'swl-bench-raftstore-'));
}

async function diskStorageCase(writers: number): Promise<Result> {
  const dir = freshDir();
  const storage = await DiskStorage.open(dir);
  const data = new Uint8Array(ENTRY_BYTES).fill(0xab);
  let next = 1;
  const start = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  async function writer(): Promise<void> {
    while (Date.now() < deadline) {
      const index = next++;
      const e: Entry = { index, term: 1, type: EntryType.Normal, data };
      await storage.save({ entries: [e], hardState: { term: 1, vote: 1, commit: index - 1 } }, true);
    }
  }
  await Promise.all(Array.from({ length: writers }, writer));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const st = storage.stats();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    name: `DiskStorage, ${writers} writer${writers > 1 ? 's' : ''}`,
    entries: st.saves,
    fsyncs: st.fsyncs,
    elapsed,
  };
}

function plainFileCase(name: string, sync: (fd: number) => void): Result {
  const dir = freshDir();
  const fd = openSync(join(dir, 'log'), 'a');
  const record = Buffer.alloc(ENTRY_BYTES + 16, 0xab); // the entry plus an index/term header
  let n = 0;
  const start = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    writeSync(fd, record);
    sync(fd);
    n++;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return { name, entries: n, fsyncs: n, elapsed };
}

function row(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(40) : c.padStart(14))).join('');
}

// The disk is shared and its speed drifts: cases take turns in short rounds and their totals are compared.
const rounds = 3;
const cases: (() => Promise<Result> | Result)[] = [
  () => plainFileCase('fs.writeSync + fsyncSync per entry', fsyncSync),
  () => plainFileCase('fs.writeSync + fdatasyncSync per entry', fdatasyncSync),
  () => diskStorageCase(1),
  () => diskStorageCase(64),
];
const totals: Result[] = [];
for (let r = 0; r < rounds; r++) {
  for (const [i, run] of cases.entries()) {
    const res = await run();
    totals[i] ??= { ...res, entries: 0, fsyncs: 0, elapsed: 0 };
    totals[i].entries += res.entries;
    totals[i].fsyncs += res.fsyncs;
    totals[i].elapsed += res.elapsed;
  }
}

const refRate = totals[0].entries / totals[0].elapsed;
console.log(
  `raft storage: synced appends of ${ENTRY_BYTES}-byte entries, ${rounds} x ${seconds} s per case, in ${baseDir}`,
);
console.log(row(['case', 'entries/s', 'fsyncs/s', 'entries/fsync', 'vs fsync ref']));
for (const r of totals) {
  const eps = r.entries / r.elapsed;
  console.log(
    row([
      r.name,
      eps.toFixed(0),
      (r.fsyncs / r.elapsed).toFixed(0),
      (r.entries / Math.max(1, r.fsyncs)).toFixed(1),
      `${(eps / refRate).toFixed(2)}x`,
    ]),
  );
}
