// Shared helpers of the storage tests and the crash-test child: temp dirs and deterministic entries.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryType, type Entry } from '../../types.js';

/** A fresh directory under the OS temp dir, and its cleanup. */
export async function tempDir(tag: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `swl-raftstore-${tag}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Payload derived from (index, term) alone, so a reader can tell an intact entry from any other. */
export function payload(index: number, term: number, size = 32): Uint8Array {
  const head = Buffer.from(`entry-${index}-${term}:`, 'ascii');
  const out = new Uint8Array(Math.max(size, head.byteLength));
  out.set(head);
  for (let i = head.byteLength; i < out.length; i++) out[i] = (index * 31 + term * 7 + i) & 0xff;
  return out;
}

export function entry(index: number, term: number, size?: number): Entry {
  return { index, term, type: EntryType.Normal, data: payload(index, term, size) };
}

/** Entries lo..hi inclusive, all in `term`. */
export function entries(lo: number, hi: number, term: number, size?: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(entry(i, term, size));
  return out;
}
