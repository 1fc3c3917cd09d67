// A FileLayer (wal/files.ts) that models a machine losing power. Each file keeps what was written and
// what is known to be on the medium: bytes reach the medium only through datasync (or truncate, which
// syncs), and directory entries (creations, renames, removals) only through syncDir. crash() builds the
// world a reboot would find: every file the last syncDir recorded, holding its synced bytes except
// that each 512-byte sector written since (over preallocated zeros, or past the synced end) may hold
// the new bytes (written back), the old ones (never written; zeros past the end) or, when `torn`,
// garbage where its bytes changed (a write cut mid-sector), independently of the others. Handles from before the crash hang
// forever: the process that held them is gone.
//
// Every operation yields to the event loop first, so concurrent callers interleave as they would
// around real I/O.

import { dirname } from 'node:path';
import type { Prng } from '../../../../lib/prng.js';
import type { AppendFile, FileLayer } from '../wal/files.js';

const SECTOR = 512;

class SimFile {
  constructor(
    public data: Buffer = Buffer.alloc(0),
    public synced: Buffer = Buffer.alloc(0),
  ) {}
}

export class PowerLossFiles implements FileLayer {
  private live = new Map<string, SimFile>();
  /** Directory entries as the medium has them (path → file), per the last syncDir of their directory. */
  private durable = new Map<string, SimFile>();
  private epoch = 0;
  readonly crashes = { count: 0, sectorsLanded: 0, sectorsTorn: 0 };

  constructor(private readonly rng: Prng) {}

  /** Power loss, then reboot: see the file comment. */
  crash(torn: boolean): void {
    this.epoch++;
    this.crashes.count++;
    const world = new Map<string, SimFile>();
    for (const [path, f] of this.durable) {
      const contents = this.afterPowerLoss(f, torn);
      world.set(path, new SimFile(contents, Buffer.from(contents)));
    }
    this.live = world;
    this.durable = new Map(world);
  }

  private afterPowerLoss(f: SimFile, torn: boolean): Buffer {
    // Growth past the synced size may or may not have reached the medium.
    const length = this.rng.int(f.synced.byteLength, Math.max(f.synced.byteLength, f.data.byteLength));
    const out = Buffer.alloc(length);
    f.synced.copy(out, 0, 0, Math.min(length, f.synced.byteLength));
    for (let s = 0; s < length; s += SECTOR) {
      const end = Math.min(length, s + SECTOR);
      const now = f.data.subarray(s, end);
      if (now.equals(out.subarray(s, end))) continue; // not written since the last sync
      const roll = this.rng.next();
      if (roll < 0.6) {
        now.copy(out, s);
        this.crashes.sectorsLanded++;
      } else if (torn && roll < 0.8) {
        // Cut mid-write: what changed in the sector is garbage; bytes an earlier sync put there stay.
        for (let i = s; i < end; i++) if (f.data[i] !== out[i]) out[i] = this.rng.int(0, 255);
        this.crashes.sectorsTorn++;
      } // else: never written back, the medium keeps what it had
    }
    return out;
  }

  private async turn(epoch: number): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (epoch !== this.epoch) await new Promise(() => {}); // the process died meanwhile
  }

  private file(path: string): SimFile {
    const f = this.live.get(path);
    if (!f) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return f;
  }

  async mkdir(): Promise<void> {
    await this.turn(this.epoch);
  }

  async list(dir: string): Promise<string[]> {
    await this.turn(this.epoch);
    return [...this.live.keys()].filter((p) => dirname(p) === dir).map((p) => p.slice(dir.length + 1));
  }

  async read(path: string): Promise<Uint8Array> {
    await this.turn(this.epoch);
    return Buffer.from(this.file(path).data);
  }

  async openAppend(path: string, end?: number): Promise<AppendFile> {
    const epoch = this.epoch;
    await this.turn(epoch);
    let f = this.live.get(path);
    if (!f) {
      f = new SimFile();
      this.live.set(path, f);
    }
    const file = f;
    let at = end ?? file.data.byteLength;
    const writeAt = (data: Uint8Array, pos: number): void => {
      const grown = Math.max(file.data.byteLength, pos + data.byteLength);
      if (grown > file.data.byteLength) {
        const bigger = Buffer.alloc(grown);
        file.data.copy(bigger);
        file.data = bigger;
      }
      file.data.set(data, pos); // `synced` is always a copy of its own
    };
    return {
      append: async (data) => {
        await this.turn(epoch);
        writeAt(data, at);
        at += data.byteLength;
      },
      datasync: async () => {
        await this.turn(epoch);
        file.synced = Buffer.from(file.data);
      },
      get size() {
        return file.data.byteLength;
      },
      // The zeros and the new size are durable; appends not yet synced stay unsynced.
      preallocate: async (size) => {
        await this.turn(epoch);
        const len = file.data.byteLength;
        if (size <= len) return;
        writeAt(Buffer.alloc(size - len), len);
        const synced = Buffer.alloc(size);
        file.synced.copy(synced);
        file.synced = synced;
      },
      close: () => this.turn(epoch),
    };
  }

  async truncate(path: string, length: number): Promise<void> {
    await this.turn(this.epoch);
    const f = this.file(path);
    f.data = Buffer.from(f.data.subarray(0, length));
    f.synced = Buffer.from(f.data);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.turn(this.epoch);
    this.live.set(to, this.file(from));
    this.live.delete(from);
  }

  async remove(path: string): Promise<void> {
    await this.turn(this.epoch);
    this.live.delete(path);
  }

  async syncDir(dir: string): Promise<void> {
    await this.turn(this.epoch);
    for (const p of [...this.durable.keys()]) if (dirname(p) === dir) this.durable.delete(p);
    for (const [p, f] of this.live) if (dirname(p) === dir) this.durable.set(p, f);
  }
}
