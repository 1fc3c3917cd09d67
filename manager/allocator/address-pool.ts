// One subnet of a network: its gateway and the range task addresses and VIPs come from. Addresses are
// handed out lowest-free from a bitmap over the ip-range; the network address, the broadcast address and
// the gateway are marked used up front so they are never handed out.
//
// Docker's IPAM allocates serially (it moves on past a released address for a while); here the choice is
// lowest-free because it is a pure function of which addresses are held, so a new leader that rebuilds
// the allocator from the store hands out exactly what the old one would have.
import { Bitmap } from './bitmap.js';
import { addressInSubnet, containsAddress, type Cidr } from '../../lib/ipv4.js';

export type ClaimOutcome = 'claimed' | 'taken' | 'reserved' | 'outside';

export class AddressPool {
  private readonly bitmap: Bitmap;

  constructor(
    readonly subnet: Cidr,
    readonly gateway: number,
    /** Where addresses come from: the whole subnet unless --ip-range narrowed it. */
    readonly range: Cidr,
  ) {
    this.bitmap = new Bitmap(range.last - range.first + 1);
    for (const reserved of [subnet.first, subnet.last, gateway]) {
      if (containsAddress(range, reserved)) this.bitmap.set(reserved - range.first);
    }
  }

  /** How many addresses are still free. */
  get free(): number {
    return this.bitmap.free;
  }

  /** Takes the lowest free address; undefined when the pool is exhausted. */
  allocate(): number | undefined {
    const offset = this.bitmap.lowestFree();
    if (offset < 0) return undefined;
    this.bitmap.set(offset);
    return this.range.first + offset;
  }

  /** Takes a specific address (restoring an allocation recorded in the store). */
  claim(addr: number): ClaimOutcome {
    if (!containsAddress(this.subnet, addr)) return 'outside';
    if (addr === this.subnet.first || addr === this.subnet.last || addr === this.gateway) return 'reserved';
    // A network's ip-range is fixed when it is allocated, so nothing this pool gave out lies outside it.
    if (!containsAddress(this.range, addr)) return 'outside';
    return this.bitmap.set(addr - this.range.first) ? 'claimed' : 'taken';
  }

  release(addr: number): void {
    const reserved = addr === this.subnet.first || addr === this.subnet.last || addr === this.gateway;
    if (containsAddress(this.range, addr) && !reserved) this.bitmap.clear(addr - this.range.first);
  }

  /** "10.0.1.5/24". */
  format(addr: number): string {
    return addressInSubnet(addr, this.subnet);
  }
}
