import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LogLine } from '../agent/executor.js';
import { packageRoot } from '../../lib/repo.js';
import {
  listRotatedFiles,
  mergeByTime,
  parseRecord,
  readTaskLogs,
  type LogRecord,
  type StatFile,
} from './log-reader.js';

const LOGGER = join(packageRoot(), 'worker', 'exec', 'shim', 'task-log.sh');

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'swl-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const rec = (sec: number, usec: number, text: string) => `${sec}.${String(usec).padStart(6, '0')} ${text}\n`;

async function collect(it: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

/** Feeds `input` through the real writer (task-log.sh) and waits for it to finish. */
function writeThroughLogger(file: string, input: string, maxBytes: number, keep: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [LOGGER, file, String(maxBytes), String(keep)], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`task-log.sh exited ${code}`))));
    child.stdin.end(input);
  });
}

test('records: epoch microseconds to RFC 3339 with nanoseconds; the text is kept byte for byte', () => {
  const r = parseRecord('1795334747.776439 hello  world ', 'stderr');
  assert.deepEqual(r, {
    stream: 'stderr',
    micros: 1795334747776439,
    time: '2026-11-22T08:05:47.776439000Z',
    line: 'hello  world ',
  });
  assert.equal(parseRecord('1795334747.776439 ', 'stdout')?.line, '');
  assert.equal(parseRecord('garbage', 'stdout'), undefined);
});

test('merge by time keeps each stream in order and interleaves them', () => {
  const mk = (stream: LogRecord['stream'], micros: number): LogRecord => ({
    stream,
    micros,
    time: '',
    line: String(micros),
  });
  const merged = mergeByTime(
    [mk('stdout', 1), mk('stdout', 5), mk('stdout', 5)],
    [mk('stderr', 2), mk('stderr', 5), mk('stderr', 9)],
  );
  assert.deepEqual(
    merged.map((r) => `${r.stream[3]}${r.micros}`),
    ['o1', 'e2', 'o5', 'o5', 'e5', 'e9'],
  );
});

test('all lines, merged across streams and across rotated files, oldest first', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'stdout.log');
  const err = join(dir, 'stderr.log');
  writeFileSync(`${out}.2`, rec(100, 1, 'o1') + rec(100, 3, 'o2'));
  writeFileSync(`${out}.1`, rec(100, 5, 'o3'));
  writeFileSync(out, rec(100, 7, 'o4') + '100.000008 half a li'); // a line still being written
  writeFileSync(`${err}.1`, rec(100, 2, 'e1'));
  writeFileSync(err, rec(100, 6, 'e2'));
  const lines = await collect(
    readTaskLogs({ stdout: out, stderr: err }, 3, { follow: false, gone: () => false }),
  );
  assert.deepEqual(
    lines.map((l) => `${l.stream}:${l.line}`),
    ['stdout:o1', 'stderr:e1', 'stdout:o2', 'stdout:o3', 'stderr:e2', 'stdout:o4'],
  );
  const tail = await collect(
    readTaskLogs({ stdout: out, stderr: err }, 3, { tail: 4, follow: false, gone: () => false }),
  );
  assert.deepEqual(
    tail.map((l) => l.line),
    ['o2', 'o3', 'e2', 'o4'],
  );
  const none = await collect(
    readTaskLogs({ stdout: out, stderr: err }, 3, { tail: 0, follow: false, gone: () => false }),
  );
  assert.deepEqual(none, []);
  const empty = await collect(
    readTaskLogs({ stdout: join(dir, 'x'), stderr: join(dir, 'y') }, 3, { follow: false, gone: () => false }),
  );
  assert.deepEqual(empty, []);
});

test('the writer rotates at the size limit, keeps N files, loses and duplicates nothing it kept', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'stdout.log');
  const input = Array.from({ length: 300 }, (_, i) => `line ${i} ${'x'.repeat(20)}`).join('\n') + '\n';
  await writeThroughLogger(out, input, 2048, 3);
  const files = readdirSync(dir).sort();
  assert.deepEqual(files, ['stdout.log', 'stdout.log.1', 'stdout.log.2']);
  for (const f of files.slice(1))
    assert.ok(statSync(join(dir, f)).size >= 2048 && statSync(join(dir, f)).size < 2048 + 100);
  const lines = await collect(
    readTaskLogs({ stdout: out, stderr: join(dir, 'none') }, 3, { follow: false, gone: () => false }),
  );
  // The kept lines are the last ones, contiguous and in order.
  const first = Number(lines[0]!.line.split(' ')[1]);
  assert.ok(first > 0 && lines.length < 300);
  assert.deepEqual(
    lines.map((l) => l.line),
    Array.from({ length: 300 - first }, (_, i) => `line ${first + i} ${'x'.repeat(20)}`),
  );
  const times = lines.map((l) => l.time);
  assert.deepEqual([...times].sort(), times);
  // tail reaches back across the rotated files.
  const tail = await collect(
    readTaskLogs({ stdout: out, stderr: join(dir, 'none') }, 3, {
      tail: 150,
      follow: false,
      gone: () => false,
    }),
  );
  assert.deepEqual(
    tail.map((l) => l.line),
    lines.slice(-150).map((l) => l.line),
  );
});

test('the writer cuts endless lines into 16 KiB records and keeps a last line without newline', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'stdout.log');
  await writeThroughLogger(out, 'a'.repeat(16384) + '\n' + 'b'.repeat(20000) + '\n\ntail', 1 << 20, 1);
  const lines = await collect(
    readTaskLogs({ stdout: out, stderr: join(dir, 'none') }, 1, { follow: false, gone: () => false }),
  );
  assert.deepEqual(
    lines.map((l) => `${l.line[0] ?? ''}${l.line.length}`),
    ['a16384', 'b16384', 'b3616', '0', 't4'],
  );
});

/**
 * A rotated set in memory (name → inode) for listRotatedFiles: `between[k]` runs just before the
 * listing's k-th stat, as a writer's renames interleave with a reader's stats on a real file system.
 */
function racingStat(files: Record<string, number>, between: Record<number, () => void>): StatFile {
  let stats = 0;
  return async (path) => {
    between[stats++]?.();
    const ino = files[path];
    return ino === undefined ? undefined : { ino, size: 1 };
  };
}

/** One rotation of x, x.1, x.2 as task-log.sh does it: the oldest goes, each moves on, a new x. */
function rotate(files: Record<string, number>, newIno: number): void {
  if (files['x.1'] !== undefined) files['x.2'] = files['x.1'];
  files['x.1'] = files['x']!;
  files['x'] = newIno;
}

test('a listing torn by two rotations within one pass still gives the set in order', async () => {
  // Between the stat of x (file 2) and of x.1, two rotations: x.1 is then file 3, newer than 2,
  // and 2 has moved to x.2: a single pass would list 3 before 2, and a follow on 2 would skip 3.
  const files: Record<string, number> = { 'x.1': 1, x: 2 };
  const statOf = racingStat(files, { 1: () => (rotate(files, 3), rotate(files, 4)) });
  const listed = await listRotatedFiles('x', 3, statOf);
  assert.deepEqual(
    listed.map((f) => `${f.path}:${f.ino}`),
    ['x.2:2', 'x.1:3', 'x:4'],
  );
});

test('a listing: each file once, at its newer name, when a pass catches it between two names', async () => {
  const files: Record<string, number> = { 'x.1': 1, x: 2 };
  let stats = 0;
  // The writer renames x.1 → x.2 after x.1 was looked at: the first pass sees file 1 twice.
  const statOf: StatFile = async (path) => {
    if (stats++ === 2) {
      files['x.2'] = files['x.1']!;
      delete files['x.1'];
    }
    const ino = files[path];
    return ino === undefined ? undefined : { ino, size: 1 };
  };
  const listed = await listRotatedFiles('x', 3, statOf);
  assert.deepEqual(
    listed.map((f) => `${f.path}:${f.ino}`),
    ['x.2:1', 'x:2'],
  );
});

test('follow: new lines as they come, through rotations, until aborted', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'stdout.log');
  const err = join(dir, 'stderr.log');
  writeFileSync(out, rec(1, 1, 'old'));
  const abort = new AbortController();
  // A failed expectation must not leave the follow loop polling (the test process would never end).
  t.after(() => abort.abort());
  const seen: string[] = [];
  const reading = (async () => {
    for await (const l of readTaskLogs({ stdout: out, stderr: err }, 3, {
      tail: 1,
      follow: true,
      signal: abort.signal,
      gone: () => false,
      pollMs: 20,
    }))
      seen.push(l.line);
  })();
  const until = async (n: number) => {
    // Generous: a loaded CI machine may take seconds to schedule the reader.
    for (let i = 0; i < 1000 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(seen.length, n, `saw ${JSON.stringify(seen)}`);
  };
  await until(1);
  appendFileSync(out, rec(2, 0, 'n1'));
  appendFileSync(err, rec(2, 1, 'e1'));
  await until(3);
  // Rotate as task-log.sh does (rename, new file), twice before the reader looks again.
  appendFileSync(out, rec(3, 0, 'before rotation'));
  renameSync(out, `${out}.1`);
  writeFileSync(out, rec(3, 1, 'first file after'));
  renameSync(`${out}.1`, `${out}.2`);
  renameSync(out, `${out}.1`);
  writeFileSync(out, rec(3, 2, 'second file after'));
  await until(6);
  abort.abort();
  await reading;
  // Each stream in its order; across streams a follow is best effort (it waits a moment for the
  // other stream, which a loaded machine may not read in time), as with Docker's two writers.
  assert.deepEqual(
    seen.filter((l) => l !== 'e1'),
    ['old', 'n1', 'before rotation', 'first file after', 'second file after'],
  );
  assert.ok(seen.includes('e1'));
});

test('follow ends when the task is gone', async (t) => {
  const dir = tempDir(t);
  let gone = false;
  const reading = collect(
    readTaskLogs({ stdout: join(dir, 'o'), stderr: join(dir, 'e') }, 3, {
      follow: true,
      gone: () => gone,
      pollMs: 10,
    }),
  );
  setTimeout(() => (gone = true), 50);
  assert.deepEqual(await reading, []);
});

test('follow, once the writers have finished: the last lines come at once, fresh ones too, and the follow ends', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'stdout.log');
  const err = join(dir, 'stderr.log');
  writeFileSync(out, '');
  let finished = false;
  // A long poll: the lines below must not wait for it, nor for the other stream's hold.
  const reading = collect(
    readTaskLogs({ stdout: out, stderr: err }, 3, {
      follow: true,
      gone: () => false,
      finished: () => finished,
      pollMs: 60_000,
    }),
  );
  // The writer's last lines land, then it ends: stamped now, younger than the merge's hold.
  const now = Date.now();
  appendFileSync(out, rec(Math.floor(now / 1000), (now % 1000) * 1000, 'last words'));
  appendFileSync(err, rec(Math.floor(now / 1000), (now % 1000) * 1000 + 1, 'last error'));
  finished = true;
  // The reader may be asleep in its poll: its first read already saw the end, or wakes for it.
  const lines = await Promise.race([
    reading,
    new Promise<LogLine[]>((_, reject) => setTimeout(() => reject(new Error('follow did not end')), 30_000)),
  ]);
  assert.deepEqual(
    lines.map((l) => l.line),
    ['last words', 'last error'],
  );
});
