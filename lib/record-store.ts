// A folder of JSON records, one file per record named by its id, for what a node keeps of its own
// outside Raft (standalone containers, local networks). Each save replaces the file whole (write,
// fsync, rename), so a crash leaves the old record or the new one, never a torn one. Loading checks
// every file with the kind's own `problem`: a file that does not hold a record is reported and
// skipped, never half-used.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export interface RecordKind {
  /** In errors: `container`, `network`. */
  name: string;
  validId(id: string): boolean;
  /** What is wrong with a value read back as a record, or undefined. */
  problem(value: unknown): string | undefined;
}

export class RecordStore<T extends { id: string }> {
  constructor(
    readonly dir: string,
    private readonly kind: RecordKind,
  ) {}

  private path(id: string): string {
    if (!this.kind.validId(id)) throw new Error(`invalid ${this.kind.name} id "${id}"`);
    return join(this.dir, `${id}.json`);
  }

  save(record: T): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = this.path(record.id);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(record, null, 2) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }

  delete(id: string): void {
    rmSync(this.path(id), { force: true });
  }

  /** Every record; files that are not records come back as problems (name and why). */
  load(): { records: T[]; problems: string[] } {
    const records: T[] = [];
    const problems: string[] = [];
    if (!existsSync(this.dir)) return { records, problems };
    for (const file of readdirSync(this.dir).sort()) {
      if (file.endsWith('.tmp')) {
        rmSync(join(this.dir, file), { force: true }); // a save a crash cut short: the old record stands
        continue;
      }
      try {
        const value: unknown = JSON.parse(readFileSync(join(this.dir, file), 'utf8'));
        const why = this.kind.problem(value);
        if (why) problems.push(`${file}: ${why}`);
        else if (`${(value as T).id}.json` !== file) problems.push(`${file}: its id is not its name`);
        else records.push(value as T);
      } catch (err) {
        problems.push(`${file}: ${(err as Error).message}`);
      }
    }
    return { records, problems };
  }
}
