// The node's local networks on disk (bridge, host, none and user bridges): one JSON file per network
// under `<data-root>/networks/local/`, replaced whole (write, fsync, rename) as the container store
// does, read back field by field; a file that is not a network record is reported and skipped.
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
import type { NetworkConfig } from './driver.js';

export interface LocalNetworkRecord extends NetworkConfig {
  /** RFC 3339. */
  created: string;
}

const ID = /^[0-9a-f]{64}$/;

export class LocalNetworkStore {
  constructor(readonly dir: string) {}

  private path(id: string): string {
    if (!ID.test(id)) throw new Error(`invalid network id "${id}"`);
    return join(this.dir, `${id}.json`);
  }

  save(record: LocalNetworkRecord): void {
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

  load(): { records: LocalNetworkRecord[]; problems: string[] } {
    const records: LocalNetworkRecord[] = [];
    const problems: string[] = [];
    if (!existsSync(this.dir)) return { records, problems };
    for (const file of readdirSync(this.dir).sort()) {
      if (file.endsWith('.tmp')) {
        rmSync(join(this.dir, file), { force: true });
        continue;
      }
      try {
        const value: unknown = JSON.parse(readFileSync(join(this.dir, file), 'utf8'));
        const why = networkRecordProblem(value);
        if (why) problems.push(`${file}: ${why}`);
        else if (`${(value as LocalNetworkRecord).id}.json` !== file)
          problems.push(`${file}: its id is not its name`);
        else records.push(value as LocalNetworkRecord);
      } catch (err) {
        problems.push(`${file}: ${(err as Error).message}`);
      }
    }
    return { records, problems };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with a value read back as a network record, or undefined. */
export function networkRecordProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an object';
  if (typeof v.id !== 'string' || !ID.test(v.id)) return 'bad id';
  if (typeof v.name !== 'string' || v.name === '') return 'bad name';
  if (typeof v.driver !== 'string' || v.driver === '') return 'bad driver';
  if (typeof v.created !== 'string') return 'bad created';
  if (typeof v.internal !== 'boolean') return 'bad internal';
  if (v.mtu !== undefined && !(Number.isSafeInteger(v.mtu) && (v.mtu as number) > 0)) return 'bad mtu';
  if (!isObject(v.options) || !Object.values(v.options).every((o) => typeof o === 'string'))
    return 'bad options';
  if (!Array.isArray(v.subnets)) return 'bad subnets';
  for (const s of v.subnets as unknown[]) {
    if (!isObject(s) || typeof s.subnet !== 'string' || typeof s.gateway !== 'string') return 'bad subnet';
    if (s.ipRange !== undefined && typeof s.ipRange !== 'string') return 'bad subnet';
  }
  return undefined;
}
