// Reading a task's logs: each stream is a rotated set of files (x.log.2, x.log.1, x.log, oldest
// first) of records `<epoch seconds>.<microseconds> <text>` written by task-log.sh. A StreamCursor
// follows one stream across rotations by inode (like `tail -F`); readTaskLogs merges the two
// streams by time, takes a tail, and follows until told to stop.
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { LogLine } from '../agent/executor.js';

export interface LogRecord {
  stream: 'stdout' | 'stderr';
  /** Microseconds since the epoch: the merge key. */
  micros: number;
  time: string;
  line: string;
}

const RECORD = /^(\d+)\.(\d{1,9}) /;

/** One record from one line of a log file; undefined for a malformed line (never written by us). */
export function parseRecord(text: string, stream: LogRecord['stream']): LogRecord | undefined {
  const m = RECORD.exec(text);
  if (!m) return undefined;
  const frac = m[2]!.padEnd(9, '0');
  const seconds = Number(m[1]);
  const iso = new Date(seconds * 1000).toISOString(); // 2026-11-22T08:05:47.000Z
  return {
    stream,
    micros: seconds * 1e6 + Number(frac.slice(0, 6)),
    time: `${iso.slice(0, 19)}.${frac}Z`,
    line: text.slice(m[0].length),
  };
}

/** Merges runs already sorted by time into one sorted run; ties keep stdout first, then arrival. */
export function mergeByTime(a: LogRecord[], b: LogRecord[]): LogRecord[] {
  const out: LogRecord[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(a[i]!.micros <= b[j]!.micros ? a[i++]! : b[j++]!);
  return out.concat(a.slice(i), b.slice(j));
}

export interface RotatedFile {
  path: string;
  ino: number;
  size: number;
}

/** What a listing needs of the file system: stat's inode and size, undefined when the path is not there. */
export type StatFile = (path: string) => Promise<{ ino: number; size: number } | undefined>;

const statFile: StatFile = (path) =>
  stat(path).then(
    (s) => ({ ino: s.ino, size: s.size }),
    () => undefined,
  );

/**
 * The files of a rotated set (base.N-1 … base.1, base), oldest first, as one consistent picture.
 * A rotation renames several files one after the other while a listing stats them one after the
 * other, so one pass may see a torn picture: stated oldest-first, a file renamed from `base` to
 * `base.1` after `base.1` was looked at and replaced by a new `base` before `base` was, is missed,
 * and a follow would skip it for ever. Looking newest-first, files only move towards names not yet
 * looked at, so a pass misses none that existed when it began (it may see one twice: the first,
 * newer name counts); two rotations within one pass can still mix, so passes repeat until two agree.
 */
export async function listRotatedFiles(
  base: string,
  keep: number,
  statOf: StatFile = statFile,
): Promise<RotatedFile[]> {
  const names = [base, ...Array.from({ length: keep - 1 }, (_, i) => `${base}.${i + 1}`)];
  const pass = async () => {
    const newestFirst: RotatedFile[] = [];
    for (const path of names) {
      const s = await statOf(path);
      if (s && !newestFirst.some((f) => f.ino === s.ino)) newestFirst.push({ path, ...s });
    }
    return newestFirst.reverse();
  };
  const key = (files: RotatedFile[]) => files.map((f) => `${f.path}:${f.ino}`).join(' ');
  let last = await pass();
  for (let attempt = 0; attempt < 5; attempt++) {
    const again = await pass();
    if (key(again) === key(last)) return again;
    last = again;
  }
  return last;
}

interface OpenFile {
  handle: FileHandle;
  ino: number;
  pos: number;
}

/** One stream's files, read forward from a position, following rotations. */
class StreamCursor {
  private current?: OpenFile;
  private readonly seen = new Set<number>();
  private partial = Buffer.alloc(0);

  constructor(
    private readonly base: string,
    private readonly stream: LogRecord['stream'],
    private readonly keep: number,
  ) {}

  /** Existing files of the stream, oldest first, with their inodes (see listRotatedFiles). */
  private candidates(): Promise<RotatedFile[]> {
    return listRotatedFiles(this.base, this.keep);
  }

  private async openAt(path: string, ino: number, pos: number): Promise<boolean> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch {
      return false;
    }
    const s = await handle.stat();
    if (s.ino !== ino) {
      await handle.close(); // rotated between stat and open: the caller looks again
      return false;
    }
    await this.current?.handle.close();
    this.current = { handle, ino, pos };
    this.seen.add(ino);
    this.partial = Buffer.alloc(0);
    return true;
  }

  /** Positions the cursor so that reading yields the last `lines` complete lines (all when undefined). */
  async seek(lines: number | undefined): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const files = await this.candidates();
      if (files.length === 0) return;
      let start = { file: files[0]!, pos: 0 };
      if (lines !== undefined) start = await this.tailStart(files, lines);
      // Older files are behind the start: never go back to them after a rotation.
      for (const f of files.slice(0, files.indexOf(start.file))) this.seen.add(f.ino);
      if (await this.openAt(start.file.path, start.file.ino, start.pos)) return;
    }
  }

  /** Walks back from the newest file's end, counting newlines, to where the last `lines` lines begin. */
  private async tailStart(
    files: RotatedFile[],
    lines: number,
  ): Promise<{ file: (typeof files)[number]; pos: number }> {
    // Files are one text cut at line ends, so this counts newlines across them, newest first: the
    // lines start after the (lines+1)-th newline from the end (a line still being written, with no
    // newline yet, is not counted and is read once complete).
    let needed = lines + 1;
    for (let k = files.length - 1; k >= 0; k--) {
      const f = files[k]!;
      const handle = await open(f.path, 'r').catch(() => undefined);
      if (!handle) continue;
      try {
        const buf = Buffer.alloc(64 * 1024);
        for (let end = f.size; end > 0;) {
          const len = Math.min(buf.length, end);
          await handle.read(buf, 0, len, end - len);
          for (let i = len - 1; i >= 0; i--) {
            if (buf[i] === 0x0a && --needed === 0) return { file: f, pos: end - len + i + 1 };
          }
          end -= len;
        }
      } finally {
        await handle.close();
      }
    }
    return { file: files[0]!, pos: 0 };
  }

  /**
   * The complete records available now, up to about maxBytes of input; [] when there is nothing
   * new. At the end of a file that a rotation left behind, moves on to its successor.
   */
  async read(maxBytes = 256 * 1024): Promise<LogRecord[]> {
    if (!this.current) {
      await this.seek(undefined);
      if (!this.current) return [];
    }
    const out: LogRecord[] = [];
    let budget = maxBytes;
    while (budget > 0) {
      const got = await this.readChunk(Math.min(budget, 64 * 1024), out);
      budget -= got;
      if (got > 0) continue;
      if (!(await this.advance(out))) break;
    }
    return out;
  }

  private async readChunk(len: number, out: LogRecord[]): Promise<number> {
    const cur = this.current!;
    const buf = Buffer.alloc(len);
    const { bytesRead } = await cur.handle.read(buf, 0, len, cur.pos);
    if (bytesRead === 0) return 0;
    cur.pos += bytesRead;
    let data = Buffer.concat([this.partial, buf.subarray(0, bytesRead)]);
    let nl: number;
    while ((nl = data.indexOf(0x0a)) >= 0) {
      const rec = parseRecord(data.subarray(0, nl).toString('utf8'), this.stream);
      if (rec) out.push(rec);
      data = data.subarray(nl + 1);
    }
    this.partial = Buffer.from(data);
    return bytesRead;
  }

  /** Moves to the next file of the stream if the current one was rotated away; false if none. */
  private async advance(out: LogRecord[]): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const files = await this.candidates();
      const idx = files.findIndex((f) => f.ino === this.current!.ino);
      const next = idx >= 0 ? files[idx + 1] : files.find((f) => !this.seen.has(f.ino));
      if (!next) return false;
      // The writer stops writing a file before it renames it: what it wrote last is there now.
      while ((await this.readChunk(64 * 1024, out)) > 0);
      if (await this.openAt(next.path, next.ino, 0)) return true;
    }
    return false;
  }

  async close(): Promise<void> {
    await this.current?.handle.close();
    this.current = undefined;
  }
}

export interface ReadLogsOptions {
  tail?: number;
  follow: boolean;
  signal?: AbortSignal;
  /** True once the task is removed: a follow ends then. */
  gone(): boolean;
  /**
   * True once the task's writers have ended: a follow reads what is left, all of it (no holding
   * back for the other stream), and ends. Checked before each read, so the read after it sees the
   * writers' last lines.
   */
  finished?(): boolean;
  pollMs?: number;
}

/** How long a followed line waits for the other stream's lines stamped before it. */
const HOLD_MS = 100;

const toLine = (r: LogRecord): LogLine => ({ stream: r.stream, time: r.time, line: r.line });

/** Both streams of a task, merged by time: the tail first, then (when following) new lines as they come. */
export async function* readTaskLogs(
  streams: { stdout: string; stderr: string },
  keep: number,
  opts: ReadLogsOptions,
): AsyncGenerator<LogLine> {
  const cursors = [
    new StreamCursor(streams.stdout, 'stdout', keep),
    new StreamCursor(streams.stderr, 'stderr', keep),
  ];
  try {
    if (opts.tail !== undefined && opts.tail < 0)
      throw new Error(`invalid tail ${opts.tail}: use 0 or more lines`);
    await Promise.all(cursors.map((c) => c.seek(opts.tail)));
    if (opts.tail !== undefined) {
      // Each stream gave its last `tail` lines; of the merged ones the last `tail` are the answer.
      const [a, b] = await Promise.all(cursors.map((c) => drain(c)));
      for (const r of opts.tail === 0 ? [] : mergeByTime(a!, b!).slice(-opts.tail)) yield toLine(r);
    }
    // Streamed merge: the smaller head goes first while both streams have lines. When one stream
    // has nothing more right now, the other goes ahead; following, only with lines older than
    // HOLD_MS, since the quiet stream's writer may still be writing a line stamped before them.
    const heads: LogRecord[][] = [[], []];
    for (;;) {
      const final = opts.finished?.() === true;
      for (let k = 0; k < 2; k++) if (heads[k]!.length === 0) heads[k] = await cursors[k]!.read();
      const [a, b] = heads as [LogRecord[], LogRecord[]];
      if (a.length && b.length) {
        let i = 0;
        let j = 0;
        while (i < a.length && j < b.length) yield toLine(a[i]!.micros <= b[j]!.micros ? a[i++]! : b[j++]!);
        heads[0] = a.slice(i);
        heads[1] = b.slice(j);
        continue;
      }
      const side = a.length ? a : b;
      const settled = opts.follow && !final ? (Date.now() - HOLD_MS) * 1000 : Infinity;
      let n = 0;
      while (n < side.length && side[n]!.micros <= settled) yield toLine(side[n++]!);
      side.splice(0, n);
      if (n > 0) continue;
      if (side.length === 0 && (!opts.follow || final || opts.signal?.aborted || opts.gone())) return;
      await sleep(side.length ? HOLD_MS / 2 : (opts.pollMs ?? 200), opts.signal);
      if (opts.signal?.aborted) return;
    }
  } finally {
    await Promise.all(cursors.map((c) => c.close()));
  }
}

async function drain(cursor: StreamCursor): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (let batch = await cursor.read(); batch.length; batch = await cursor.read()) out.push(...batch);
  return out;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
