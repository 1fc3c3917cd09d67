// Fixed-width base-36 rendering of byte strings, the alphabet of Swarm's join tokens and object ids.

/** Renders `bytes` as a big-endian number in lowercase base 36, left-padded with '0' to `width`. */
export function base36(bytes: Uint8Array, width: number): string {
  const hex = Buffer.from(bytes).toString('hex');
  const text = (hex.length === 0 ? 0n : BigInt('0x' + hex)).toString(36);
  if (text.length > width) throw new Error(`${bytes.length} bytes do not fit in ${width} base-36 digits`);
  return text.padStart(width, '0');
}

/** Width that any value of `bits` bits fits in: 128 bits → 25 digits, 256 bits → 50 digits. */
export function base36Width(bits: number): number {
  return Math.ceil(bits / Math.log2(36));
}

export const BASE36_PATTERN = /^[0-9a-z]+$/;
