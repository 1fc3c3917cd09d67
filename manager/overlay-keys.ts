// The IPsec keys of the encrypted overlays (`--opt encrypted`), as the leader keeps them in the cluster
// object. A rotation is three store writes, an overlap apart, so no node ever sends with a key a peer
// cannot decrypt yet:
//   1. add:    a new key joins the set; every node installs its inbound SAs (it still sends with the old);
//   2. switch: the new key becomes the primary; nodes send with it (every peer accepts it since step 1);
//   3. retire: the old key leaves the set; nodes remove its SAs (nobody sends with it since step 2).
// The overlap between steps is how long a session message may take to reach every node and be applied.
// A new leader finds a rotation half done in the store and finishes it. Pure but for the key bytes.
import { randomBytes } from 'node:crypto';
import type { OverlayKey, OverlayKeySet } from '../api/objects/index.js';

/** rfc4106(gcm(aes)) with a 128-bit key takes 20 bytes: the AES key and a 4-byte salt. */
export const OVERLAY_KEY_BYTES = 20;
/** Docker rotates its data-path keys every 12 hours. */
export const DEFAULT_OVERLAY_ROTATION_MS = 12 * 60 * 60 * 1000;
/**
 * Between the steps of one rotation: a session update reaches a live node within a heartbeat or two
 * and its overlay sync follows at once, so 30 s leaves a wide margin on a loaded node.
 */
export const DEFAULT_OVERLAY_OVERLAP_MS = 30_000;

export type OverlayRotationStep = 'add' | 'switch' | 'retire';

export function newOverlayKey(id: number, bytes: Buffer = randomBytes(OVERLAY_KEY_BYTES)): OverlayKey {
  return { id, key: bytes.toString('base64') };
}

/** The first set of a cluster: one key, the primary. */
export function initialOverlayKeys(bytes?: Buffer): OverlayKeySet {
  return { keys: [newOverlayKey(1, bytes)], primary: 1 };
}

/**
 * Which step comes next: a key newer than the primary is waiting to be switched to; a key older than
 * the primary is waiting to be retired; otherwise a rotation starts with a new key.
 */
export function nextRotationStep(set: OverlayKeySet): OverlayRotationStep {
  if (set.keys.some((k) => k.id > set.primary)) return 'switch';
  if (set.keys.some((k) => k.id < set.primary)) return 'retire';
  return 'add';
}

/** Whether a rotation is under way (a new leader finishes it before starting the schedule). */
export const rotationInProgress = (set: OverlayKeySet): boolean => nextRotationStep(set) !== 'add';

/** The set after one step. `bytes`: the new key's material, for 'add'. */
export function applyRotationStep(
  set: OverlayKeySet,
  step: OverlayRotationStep,
  bytes?: Buffer,
): OverlayKeySet {
  const newest = Math.max(...set.keys.map((k) => k.id));
  switch (step) {
    case 'add':
      return { keys: [...set.keys, newOverlayKey(newest + 1, bytes)], primary: set.primary };
    case 'switch':
      return { keys: set.keys, primary: newest };
    case 'retire':
      return { keys: set.keys.filter((k) => k.id >= set.primary), primary: set.primary };
  }
}

/** The set's keys primary first, then the newest: the order nodes are sent them in. */
export function keysPrimaryFirst(set: OverlayKeySet): OverlayKey[] {
  return [...set.keys].sort(
    (a, b) => Number(b.id === set.primary) - Number(a.id === set.primary) || b.id - a.id,
  );
}

/**
 * `SWARMLITE_OVERLAY_KEY_ROTATION_MS` (a lab's or a test's short schedule): the period, and the overlap
 * as a tenth of it (at least 1 s) unless the period is the default. Invalid: one clear error.
 */
export function overlayRotationFromEnv(value: string | undefined): { periodMs: number; overlapMs: number } {
  if (value === undefined || value === '')
    return { periodMs: DEFAULT_OVERLAY_ROTATION_MS, overlapMs: DEFAULT_OVERLAY_OVERLAP_MS };
  const periodMs = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(periodMs) || periodMs < 3_000)
    throw new Error(
      `SWARMLITE_OVERLAY_KEY_ROTATION_MS must be a whole number of milliseconds, at least 3000, got '${value}'`,
    );
  return { periodMs, overlapMs: Math.max(1_000, Math.floor(periodMs / 10)) };
}
