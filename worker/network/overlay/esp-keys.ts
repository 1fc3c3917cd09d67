// What every node derives alike from the overlay IPsec keys the managers send (proto OverlayKey), so no
// per-pair secret ever travels: for a key and an ordered VTEP pair (sender, receiver), the SPI of the
// pair's SA and its own 20 bytes of rfc4106(gcm(aes)) material (HKDF-SHA256 of the cluster key). Both
// ends compute the same SA; each direction and each key has its own, so no two SAs share a GCM key.
// Also the two numbers that mark what this daemon owns in the kernel's xfrm tables: its reqid and mark.
import { createHash, hkdfSync } from 'node:crypto';

/** One cluster key as the session delivers it. */
export interface EspKey {
  id: number;
  /** 20 bytes: AES-128 key and GCM salt. */
  key: Buffer;
}

export interface EspKeySet {
  keys: EspKey[];
  /** The id of the key this node sends with. */
  primary: number;
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest();

/**
 * The SPI of the SA from `src` to `dst` under `key`. From the key's bytes too, not only its id: a
 * swarm made again after a leave starts its ids at 1, and its SAs must not be taken for the old ones.
 * Values below 256 are reserved (RFC 4303), so they are moved up.
 */
export function espSpi(key: EspKey, src: string, dst: string): number {
  const spi = sha256(Buffer.concat([key.key, Buffer.from(`|${key.id}|${src}>${dst}`)])).readUInt32BE(0);
  return spi < 0x100 ? spi + 0x100 : spi;
}

/** The SA's key material: the cluster key stretched for this pair and direction. */
export function espPairKey(key: EspKey, src: string, dst: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key.key, 'swarmlite-overlay-esp', `${key.id}|${src}>${dst}`, 20));
}

/** `0x` and 8 hex digits, as `ip xfrm` prints an SPI. */
export const spiHex = (spi: number): string => `0x${spi.toString(16).padStart(8, '0')}`;

/**
 * The reqid of every SA and policy template this daemon makes (1..65535, from its prefix): how it tells
 * its own states from those of another daemon in the same kernel (a lab) or of other software.
 */
export function espReqid(prefix: string): number {
  return (sha256(`swarmlite-esp-reqid|${prefix}`).readUInt16BE(0) % 0xffff) + 1;
}

/**
 * The packet mark that selects this daemon's policies: the outgoing VXLAN of an encrypted network
 * carries it (set by nftables), so plain networks' VXLAN on the same port never meets a policy.
 */
export function espMark(prefix: string): number {
  return (0xe5000000 | espReqid(prefix)) >>> 0;
}

/**
 * The key set of a session message (proto OverlayKey, overlay_primary_key), checked: none (an empty
 * list: this node has no task on an encrypted network), a set, or why it is unusable (a key not 20
 * bytes, an id repeated or 0, a primary not among the keys), in which case the node keeps what it had.
 */
export function espKeySetFromSession(
  keys: readonly { id: number; key: Uint8Array }[],
  primary: number,
): EspKeySet | undefined | { error: string } {
  if (keys.length === 0) return undefined;
  const ids = new Set<number>();
  for (const k of keys) {
    if (!Number.isInteger(k.id) || k.id <= 0 || ids.has(k.id))
      return { error: `overlay key id ${k.id} is 0, repeated or not a whole number` };
    if (k.key.length !== 20)
      return { error: `overlay key ${k.id} has ${k.key.length} bytes, not the 20 of rfc4106(gcm(aes)) 128` };
    ids.add(k.id);
  }
  if (!ids.has(primary)) return { error: `the primary overlay key ${primary} is not among the keys sent` };
  return { keys: keys.map((k) => ({ id: k.id, key: Buffer.from(k.key) })), primary };
}
