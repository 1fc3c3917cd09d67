// Wire encoding and encryption of gossip packets (UDP) and sync frames (TCP).
//
//   byte 0      version (1)
//   byte 1      mode: 0 = plaintext, 1 = AES-256-GCM
//   mode 1:     nonce (12 random bytes) | ciphertext | GCM tag (16); header bytes 0-1 are AAD
//   payload     UTF-8 JSON of a Packet or SyncMessage
//
// JSON rather than a hand-rolled binary layout: messages are small and few (a handful per second per
// peer), every field is checked by wire.ts anyway, and one encoder/decoder pair is easier to keep
// correct than a binary one; the cost is ~2x bytes, well inside a 1400-byte UDP budget. The version
// byte lets a later binary format coexist during an upgrade.
//
// Keys form a ring, as in memberlist: the primary key encrypts, every key is tried to decrypt, so an
// operator rotates by adding the new key everywhere, switching primaries, then removing the old one.
// A fresh random nonce per packet is safe for GCM up to ~2^32 packets per key, far beyond a
// rotation period. Decoding never throws: it returns a typed failure the shell counts and drops.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Packet, SyncMessage } from './core.js';
import { packetOk, syncOk } from './wire.js';

const WIRE_VERSION = 1;
const MODE_PLAIN = 0;
const MODE_GCM = 1;
const HEADER = 2;
const NONCE = 12;
const TAG = 16;
const KEY_BYTES = 32;
/** Largest UDP payload over IPv4. */
const MAX_PACKET_BYTES = 65_507;
/** Largest TCP sync frame (full membership + a network's table). */
export const MAX_SYNC_BYTES = 16 * 1024 * 1024;

export type DropReason =
  'too-short' | 'too-long' | 'version' | 'mode' | 'unencrypted' | 'no-key' | 'auth' | 'json' | 'schema';

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: DropReason };

export class Keyring {
  /** Primary first. */
  private ring: Buffer[] = [];

  constructor(keys: Uint8Array[] = []) {
    for (const k of keys) this.add(k);
  }

  get enabled(): boolean {
    return this.ring.length > 0;
  }

  get primary(): Buffer | undefined {
    return this.ring[0];
  }

  keys(): Buffer[] {
    return [...this.ring];
  }

  /** Adds a key for receiving (the first key added becomes the primary). */
  add(key: Uint8Array): void {
    if (key.length !== KEY_BYTES) throw new Error(`gossip key must be ${KEY_BYTES} bytes, got ${key.length}`);
    if (this.indexOf(key) < 0) this.ring.push(Buffer.from(key));
  }

  /** Makes an installed key the one used to send. */
  usePrimary(key: Uint8Array): void {
    const i = this.indexOf(key);
    if (i < 0) throw new Error('gossip key is not installed');
    const [k] = this.ring.splice(i, 1);
    this.ring.unshift(k);
  }

  remove(key: Uint8Array): void {
    const i = this.indexOf(key);
    if (i === 0) throw new Error('cannot remove the primary gossip key');
    if (i > 0) this.ring.splice(i, 1);
  }

  /**
   * Installs exactly `keys`, the first as primary, in the order that never leaves the ring without
   * a usable key: add the new ones, switch the primary, then drop the others. This is what a node
   * does with each key list the managers send (they rotate by sending [new, old], later [new]).
   */
  replace(keys: Uint8Array[]): void {
    if (keys.length === 0)
      throw new Error('a gossip key list cannot be emptied (encryption cannot be turned off live)');
    for (const k of keys) this.add(k);
    this.usePrimary(keys[0]);
    for (const k of this.keys()) if (!keys.some((w) => k.equals(w))) this.remove(k);
  }

  private indexOf(key: Uint8Array): number {
    return this.ring.findIndex((k) => k.equals(key));
  }
}

function seal(json: string, keyring: Keyring): Buffer {
  const body = Buffer.from(json, 'utf8');
  const key = keyring.primary;
  if (!key) return Buffer.concat([Buffer.from([WIRE_VERSION, MODE_PLAIN]), body]);
  const header = Buffer.from([WIRE_VERSION, MODE_GCM]);
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(header);
  const ct = Buffer.concat([cipher.update(body), cipher.final()]);
  return Buffer.concat([header, nonce, ct, cipher.getAuthTag()]);
}

function open(buf: Uint8Array, keyring: Keyring, maxBytes: number): Decoded<string> {
  if (buf.length < HEADER + 1) return { ok: false, reason: 'too-short' };
  if (buf.length > maxBytes) return { ok: false, reason: 'too-long' };
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b[0] !== WIRE_VERSION) return { ok: false, reason: 'version' };
  if (b[1] === MODE_PLAIN) {
    // An encrypted cluster must not accept forged plaintext; a plaintext one cannot read ciphertext.
    if (keyring.enabled) return { ok: false, reason: 'unencrypted' };
    return { ok: true, value: b.subarray(HEADER).toString('utf8') };
  }
  if (b[1] !== MODE_GCM) return { ok: false, reason: 'mode' };
  if (!keyring.enabled) return { ok: false, reason: 'no-key' };
  if (b.length < HEADER + NONCE + TAG + 1) return { ok: false, reason: 'too-short' };
  const nonce = b.subarray(HEADER, HEADER + NONCE);
  const ct = b.subarray(HEADER + NONCE, b.length - TAG);
  const tag = b.subarray(b.length - TAG);
  for (const key of keyring.keys()) {
    try {
      const d = createDecipheriv('aes-256-gcm', key, nonce);
      d.setAAD(b.subarray(0, HEADER));
      d.setAuthTag(tag);
      return { ok: true, value: Buffer.concat([d.update(ct), d.final()]).toString('utf8') };
    } catch {
      // wrong key or tampered: try the next key
    }
  }
  return { ok: false, reason: 'auth' };
}

function parse<T>(text: string, ok: (x: unknown) => x is T): Decoded<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'json' };
  }
  return ok(value) ? { ok: true, value } : { ok: false, reason: 'schema' };
}

export function encodePacket(p: Packet, keyring: Keyring): Buffer {
  return seal(JSON.stringify(p), keyring);
}

export function decodePacket(buf: Uint8Array, keyring: Keyring): Decoded<Packet> {
  const opened = open(buf, keyring, MAX_PACKET_BYTES);
  return opened.ok ? parse(opened.value, packetOk) : opened;
}

export function encodeSync(m: SyncMessage, keyring: Keyring): Buffer {
  return seal(JSON.stringify(m), keyring);
}

export function decodeSync(buf: Uint8Array, keyring: Keyring): Decoded<SyncMessage> {
  const opened = open(buf, keyring, MAX_SYNC_BYTES);
  return opened.ok ? parse(opened.value, syncOk) : opened;
}
