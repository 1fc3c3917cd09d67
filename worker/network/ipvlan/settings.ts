// What is the ipvlan driver's own in a network's settings and endpoints; the parent (`-o parent`, a
// VLAN `eth0.N` made for it, Docker's dummy), the MTU and the one-network-per-parent rule are shared
// with macvlan (macvlan/settings.ts). ipvlan devices share their parent's MAC, so an endpoint has none
// of its own; l3 mode routes instead of bridging, so it has no gateway: the sandbox's default route
// goes straight out of the device (`default dev eth0`), as Docker's.
import { NetworkDriverError, type EndpointConfig, type NetworkConfig } from '../driver.js';
import { DEFAULT_MODE, MODE_OPTION, MODES, settingsOf, type LowerSettings } from '../macvlan/settings.js';

export const IPVLAN_MODE_OPTION = MODE_OPTION.ipvlan;
export const IPVLAN_MODES = MODES.ipvlan;
export const IPVLAN_DEFAULT_MODE = DEFAULT_MODE.ipvlan;

/** The settings of an ipvlan network (`-o ipvlan_mode=l2|l3`, default l2), or the first thing wrong. */
export function ipvlanSettings(net: NetworkConfig): LowerSettings {
  return settingsOf('ipvlan', net);
}

/** l3: the parent's node routes the sandbox's packets; there is no next hop on the wire to name. */
export const routesWithoutGateway = (s: LowerSettings): boolean => s.mode === 'l3';

/** What an endpoint on an ipvlan network may not ask for (ports are refused for both kinds already). */
export function checkIpvlanEndpoint(net: NetworkConfig, ep: EndpointConfig): void {
  if (ep.mac)
    throw new NetworkDriverError(
      `an endpoint on ipvlan network ${net.name} has the parent's MAC, not its own (mac ${ep.mac} given)`,
    );
}
