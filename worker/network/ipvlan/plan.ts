// The ipvlan leg as a pure function of the join request: the shared planner (macvlan/plan.ts) makes,
// moves and sets up the device; this decides what the device is. No MAC (the parent's), the mode as
// configured, and the default route by mode: l2 via the subnet's gateway as a macvlan leg, l3 straight
// out of the device (`default dev eth0`: in l3 the node's own routing table carries the packets on,
// so there is no gateway to go through). An internal network, or a join without defaultRoute, gets
// no default route in either mode.
import { lowerDeviceLegBase, type DesiredLeg, type LegRequest } from '../macvlan/plan.js';
import { routesWithoutGateway } from './settings.js';

export function ipvlanLeg(r: LegRequest): DesiredLeg {
  const s = r.settings;
  const route: DesiredLeg['route'] =
    !r.defaultRoute || s.internal ? undefined : routesWithoutGateway(s) ? 'dev' : { via: r.gateway };
  return {
    ...lowerDeviceLegBase('ipvlan', r),
    ...(route ? { route } : {}),
  };
}
