// The gossip key manager (leader only), after SwarmKit's: the swarm's gossip on 7946 is encrypted with
// keys the managers make and hand to every node through its dispatcher session. Every rotation period
// the leader adds a fresh key that becomes the primary (nodes send with it) and keeps the previous ones
// for receiving, so nodes that have not yet heard of the new key still understand each other; the
// oldest beyond the kept count is dropped. Rotation is a store write, so every manager agrees on it and a
// new leader just carries on from the keys' Lamport times.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../lib/log.js';
import type { Store } from './store/index.js';
import type { EncryptionKey, SwarmObjects } from '../api/objects/index.js';

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
}

export class KeyManager {
  private timer: NodeJS.Timeout | undefined;
  private readonly rotationMs: number;

  constructor(private readonly opts: KeyManagerOptions) {
    this.rotationMs = opts.rotationMs ?? DEFAULT_ROTATION_MS;
  }

  start(): void {
    this.stop();
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
    this.timer = undefined;
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
