// A FileLayer (wal/files.ts) that models a machine losing power. Each file keeps what was written and
// what is known to be on the medium: bytes reach the medium only through datasync (or truncate, which
// syncs), and directory entries (creations, renames, removals) only through syncDir. crash() builds the
// world a reboot would find: every file the last syncDir recorded, holding its synced bytes plus, past
// them, an arbitrary mix of 512-byte sectors of the unsynced writes that happened to be written back,
// never-written holes (zeros) and, when `torn`, sectors of garbage (a write cut mid-sector). Handles
// from before the crash hang forever: the process that held them is gone.
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
    const base = f.data.subarray(0, f.synced.byteLength).equals(f.synced) ? f.data : f.synced;
    const length = this.rng.int(f.synced.byteLength, Math.max(f.synced.byteLength, base.byteLength));
    const out = Buffer.alloc(length);
    f.synced.copy(out);
    for (let s = f.synced.byteLength; s < length; s += SECTOR) {
      const end = Math.min(length, s + SECTOR);
      const roll = this.rng.next();
      if (roll < 0.6) {
        base.copy(out, s, s, end);
        this.crashes.sectorsLanded++;
      } else if (torn && roll < 0.8) {
        for (let i = s; i < end; i++) out[i] = this.rng.int(0, 255);
        this.crashes.sectorsTorn++;
      } // else: never written back, reads as zeros
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

  async openAppend(path: string): Promise<AppendFile> {
    const epoch = this.epoch;
    await this.turn(epoch);
    let f = this.live.get(path);
    if (!f) {
      f = new SimFile();
      this.live.set(path, f);
    }
    const file = f;
    return {
      append: async (data) => {
        await this.turn(epoch);
        file.data = Buffer.concat([file.data, data]);
      },
      datasync: async () => {
        await this.turn(epoch);
        file.synced = Buffer.from(file.data);
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
