// The client workload: a few clients issue put/get/cas against random members, one operation at a
// time each, and record a history (invocation and response times on the virtual clock) for the
// linearizability check. A client that times out is abandoned: its operation stays pending forever
// (ret = Infinity) and a fresh client takes its place, as a porcupine-style history requires.

import type { KvOp } from '../../../lib/linearizability.js';
import type { Prng } from '../../../lib/prng.js';

export interface ClientRequest {
  req: number;
  op: KvOp;
  finished: boolean;
  /** Called once, when the request is answered (not on timeout). */
  onDone: () => void;
}

export class Workload {
  readonly history: KvOp[] = [];
  private nextClientId = 1;
  private nextReq = 1;
  private readonly keys = ['x', 'y', 'z'];
  private valueCounter = 0;

  constructor(private readonly rng: Prng) {}

  newClientId(): number {
    return this.nextClientId++;
  }

  /** Draws the next operation for a client; values are unique so that reads identify their write. */
  nextOp(clientId: number, now: number): { req: number; op: KvOp } {
    const key = this.rng.pick(this.keys);
    const roll = this.rng.next();
    const req = this.nextReq++;
    let op: KvOp;
    if (roll < 0.4) {
      op = { clientId, kind: 'put', key, value: `v${++this.valueCounter}`, call: now, ret: Infinity };
    } else if (roll < 0.8) {
      op = { clientId, kind: 'get', key, call: now, ret: Infinity };
    } else {
      // Expect a recent value (or absence) so that some swaps succeed.
      const expected =
        this.valueCounter > 0 && this.rng.chance(0.8)
          ? `v${this.rng.int(Math.max(1, this.valueCounter - 3), this.valueCounter)}`
          : undefined;
      op = {
        clientId,
        kind: 'cas',
        key,
        value: `v${++this.valueCounter}`,
        expected,
        call: now,
        ret: Infinity,
      };
    }
    return { req, op };
  }

  record(op: KvOp): void {
    this.history.push(op);
  }

  /** An operation that certainly had no effect (refused before reaching the log) leaves the history. */
  forget(op: KvOp): void {
    const i = this.history.lastIndexOf(op);
    if (i >= 0) this.history.splice(i, 1);
  }
}
