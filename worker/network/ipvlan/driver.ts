// `-d ipvlan`: containers on the parent's wire with addresses of their own and the parent's MAC (one
// MAC on the wire however many containers: for switches that limit MACs per port, and wireless
// links). The I/O is the macvlan driver's (macvlan/driver.ts: parent, VLAN sub-interface, dummy,
// labels, one queue per network); this adds the ipvlan leg (plan.ts), its endpoint rule and the
// kernel check: on a kernel without CONFIG_IPVLAN every ipvlan network is refused at creation, by
// name, before anything is made.
import type { EndpointConfig, NetworkConfig } from '../driver.js';
import { missingFeature } from '../macvlan/kernel.js';
import { LowerDeviceDriver } from '../macvlan/driver.js';
import type { DesiredLeg, LegRequest } from '../macvlan/plan.js';
import { ipvlanLeg } from './plan.js';
import { checkIpvlanEndpoint } from './settings.js';

/** Modes l2 (default) and l3 (`-o ipvlan_mode=`). */
export class IpvlanDriver extends LowerDeviceDriver {
  readonly name = 'ipvlan' as const;

  protected override async checkNetwork(net: NetworkConfig): Promise<void> {
    if (!(await this.kernel.has('ipvlan')))
      throw missingFeature('ipvlan', `the ipvlan driver (network ${net.name})`);
  }

  protected override checkEndpoint(net: NetworkConfig, ep: EndpointConfig): void {
    checkIpvlanEndpoint(net, ep);
  }

  protected legOf(r: LegRequest): DesiredLeg {
    return ipvlanLeg(r);
  }
}
