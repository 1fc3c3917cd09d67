// The gossip key manager (leader only), after SwarmKit's: the swarm's gossip on 7946 is encrypted with
// keys the managers make and hand to every node through its dispatcher session. Every rotation period
// the leader adds a fresh key that becomes the primary (nodes send with it) and keeps the previous ones
// for receiving, so nodes that have not yet heard of the new key still understand each other; the
// oldest beyond the kept count is dropped. Rotation is a store write, so every manager agrees on it and a
// new leader just carries on from the keys' Lamport times.
//
// It also keeps the encrypted overlays' IPsec keys (overlay-keys.ts): made when the leader first finds
// none, rotated on their own schedule in three steps an overlap apart, a half-done rotation finished by
// whichever manager leads next.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../lib/log.js';
import type { Store } from './store/index.js';
import type { EncryptionKey, OverlayKeySet, SwarmObjects } from '../api/objects/index.js';
import {
  applyRotationStep,
  DEFAULT_OVERLAY_OVERLAP_MS,
  DEFAULT_OVERLAY_ROTATION_MS,
  initialOverlayKeys,
  nextRotationStep,
  rotationInProgress,
  type OverlayRotationStep,
} from './overlay-keys.js';

const GOSSIP_SUBSYSTEM = 'gossip';
/** SwarmKit rotates its network keys every 12 hours and keeps 3. */
const DEFAULT_ROTATION_MS = 12 * 60 * 60 * 1000;
export const KEYS_KEPT = 3;

export function newGossipKey(lamportTime: number): EncryptionKey {
  return {
    subsystem: GOSSIP_SUBSYSTEM,
    algorithm: 'aes-256-gcm',
    key: randomBytes(32).toString('base64'),
    lamportTime,
  };
}

/**
 * The keys after one rotation: a new primary with the next Lamport time, the newest `kept - 1` of the
 * old gossip keys after it; keys of other subsystems untouched. Pure but for the new key's bytes.
 */
export function rotateGossipKeys(keys: readonly EncryptionKey[], kept = KEYS_KEPT): EncryptionKey[] {
  const gossip = keys
    .filter((k) => k.subsystem === GOSSIP_SUBSYSTEM)
    .sort((a, b) => b.lamportTime - a.lamportTime);
  const others = keys.filter((k) => k.subsystem !== GOSSIP_SUBSYSTEM);
  const next = newGossipKey((gossip[0]?.lamportTime ?? 0) + 1);
  return [next, ...gossip.slice(0, kept - 1), ...others];
}

export interface KeyManagerOptions {
  store: Store<SwarmObjects>;
  clusterId: string;
  log: Logger;
  rotationMs?: number;
  /** The overlay IPsec keys' rotation period and the wait between its three steps. */
  overlayRotationMs?: number;
  overlayOverlapMs?: number;
}

export class KeyManager {
  private timer: NodeJS.Timeout | undefined;
  private overlayTimer: NodeJS.Timeout | undefined;
  private readonly rotationMs: number;
  private readonly overlayRotationMs: number;
  private readonly overlayOverlapMs: number;
  /** Bumped by stop(): a rotation sleeping between steps gives up when it wakes in another term. */
  private term = 0;
  private overlayRotating = false;

  constructor(private readonly opts: KeyManagerOptions) {
    this.rotationMs = opts.rotationMs ?? DEFAULT_ROTATION_MS;
    this.overlayRotationMs = opts.overlayRotationMs ?? DEFAULT_OVERLAY_ROTATION_MS;
    this.overlayOverlapMs = opts.overlayOverlapMs ?? DEFAULT_OVERLAY_OVERLAP_MS;
  }

  start(): void {
    this.stop();
    const term = this.term;
    // A half-done rotation (a leader that stopped between steps) is finished first, then the schedule.
    void this.rotateOverlay(term, 'finish');
    this.overlayTimer = setInterval(() => void this.rotateOverlay(term, 'full'), this.overlayRotationMs);
    this.overlayTimer.unref();
    this.timer = setInterval(
      () =>
        void this.rotate().catch((err: unknown) => {
          this.opts.log.warn({ err }, 'gossip key rotation failed; retrying at the next period');
        }),
      this.rotationMs,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.overlayTimer);
    this.timer = undefined;
    this.overlayTimer = undefined;
    this.term++;
  }

  /** One overlay rotation now, all three steps (tests; the schedule does the same). */
  rotateOverlayKeys(): Promise<void> {
    return this.rotateOverlay(this.term, 'full');
  }

  /**
   * One overlay rotation through its three steps ('full'), or only the rest of one under way
   * ('finish', which also makes the first keys of a cluster that has none). One at a time.
   */
  private async rotateOverlay(term: number, how: 'full' | 'finish'): Promise<void> {
    if (this.overlayRotating) return;
    this.overlayRotating = true;
    try {
      let set = await this.overlayStep(how === 'full' ? 'add' : undefined);
      while (set && rotationInProgress(set)) {
        await new Promise((r) => setTimeout(r, this.overlayOverlapMs).unref());
        if (term !== this.term) return;
        set = await this.overlayStep(nextRotationStep(set));
      }
    } catch (err) {
      this.opts.log.warn({ err }, 'overlay key rotation failed; retrying at the next period');
    } finally {
      this.overlayRotating = false;
    }
  }

  /**
   * One store write: the cluster's first overlay keys when it has none, else `step` if it is the one
   * due (a write from another leader may have done it). Gives back the set as written.
   */
  private async overlayStep(step: OverlayRotationStep | undefined): Promise<OverlayKeySet | undefined> {
    let result: OverlayKeySet | undefined;
    let done = '';
    await this.opts.store.update((tx) => {
      const c = tx.get('cluster', this.opts.clusterId);
      if (!c) return;
      let set = c.overlayKeys;
      if (!set) {
        set = initialOverlayKeys();
        done = 'made';
      } else if (step && nextRotationStep(set) === step) {
        set = applyRotationStep(set, step);
        done = step;
      }
      result = set;
      if (done) tx.update('cluster', { ...c, overlayKeys: set });
    });
    if (done) this.opts.log.info({ step: done, primary: result?.primary }, 'overlay IPsec keys changed');
    return result;
  }

  /** One rotation now (also what the timer does). */
  async rotate(): Promise<void> {
    await this.opts.store.update((tx) => {
      const c = tx.get('cluster', this.opts.clusterId);
      if (!c) return;
      tx.update('cluster', { ...c, encryptionKeys: rotateGossipKeys(c.encryptionKeys ?? []) });
    });
    this.opts.log.info('gossip keys rotated');
  }
}
