// The networks of a node's macvlan and ipvlan drivers together. A parent device carries one network of
// either kind: the kernel hands a device's received frames to one rx handler, so a device that has
// macvlan ports cannot take an ipvlan port (EBUSY at the first join). Each driver alone would see only
// its own networks and let the clash through to a container's start; sharing this index refuses it at
// `network create`, naming the other network.
import { Mutex } from '../../../lib/mutex.js';
import type { NetworkConfig } from '../driver.js';
import type { LowerKind } from './names.js';

export interface LowerNetwork {
  kind: LowerKind;
  net: NetworkConfig;
}

export class LowerNetworks {
  private readonly nets = new Map<string, LowerNetwork>();
  /** Held while one network is checked against the others and booked (two creates cannot both win). */
  readonly lock = new Mutex();

  add(kind: LowerKind, net: NetworkConfig): void {
    this.nets.set(net.id, { kind, net });
  }

  remove(networkId: string): void {
    this.nets.delete(networkId);
  }

  all(): LowerNetwork[] {
    return [...this.nets.values()];
  }
}
