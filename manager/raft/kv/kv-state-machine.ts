// The replicated state of the test KV service: a map from string keys to byte values.
import type { Entry } from '../types.js';
import type { StateMachine } from '../node/state-machine.js';

/** A put command: u16 key length, key (utf8), value. */
export function encodePut(key: string, value: Uint8Array): Uint8Array {
  const k = Buffer.from(key);
  const out = Buffer.allocUnsafe(2 + k.length + value.length);
  out.writeUInt16BE(k.length, 0);
  k.copy(out, 2);
  out.set(value, 2 + k.length);
  return out;
}

export class KvStateMachine implements StateMachine {
  readonly data = new Map<string, Uint8Array>();

  apply(entry: Entry): void {
    const buf = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.length);
    const keyLen = buf.readUInt16BE(0);
    const key = buf.toString('utf8', 2, 2 + keyLen);
    // Copy: the entry's bytes may be a view into a network or storage buffer that gets reused.
    this.data.set(key, Uint8Array.prototype.slice.call(buf, 2 + keyLen));
  }

  /**
   * Every entry as u16 key length, u32 value length, key, value, into one buffer sized first: the
   * snapshot is taken on the event loop (all members at the same log index), and three small buffers
   * per key made it ~50-250 ms of allocation and collection for 10,000 keys on the 2-core test
   * machine, a stall every member took at once (manager/raft/README.md, "Speed").
   */
  snapshot(): Uint8Array {
    let size = 0;
    for (const [key, value] of this.data) size += 6 + Buffer.byteLength(key) + value.length;
    const out = Buffer.allocUnsafe(size);
    let off = 0;
    for (const [key, value] of this.data) {
      const keyLen = out.write(key, off + 6);
      out.writeUInt16BE(keyLen, off);
      out.writeUInt32BE(value.length, off + 2);
      out.set(value, off + 6 + keyLen);
      off += 6 + keyLen + value.length;
    }
    return out;
  }

  restore(data: Uint8Array): void {
    this.data.clear();
    const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
    for (let off = 0; off < buf.length;) {
      const keyLen = buf.readUInt16BE(off);
      const valueLen = buf.readUInt32BE(off + 2);
      const key = buf.toString('utf8', off + 6, off + 6 + keyLen);
      off += 6 + keyLen;
      this.data.set(key, Uint8Array.prototype.slice.call(buf, off, off + valueLen));
      off += valueLen;
    }
  }
}
