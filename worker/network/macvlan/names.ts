// The names the macvlan and ipvlan drivers give the kernel and the labels by which they know their own
// devices. A leg lives in the sandbox (a macvlan or ipvlan device cannot stay behind in the node's
// namespace as a veth's end does), so its label travels with it; the parents the driver makes (a VLAN
// sub-interface, a dummy) stay in the node's namespace with a label of their own. As with the bridge
// driver, a device is the driver's by its label (owner = the daemon's prefix), never by its name.
import { createHash } from 'node:crypto';

/** The two drivers on a parent device: same plumbing, different kernel link type. */
export type LowerKind = 'macvlan' | 'ipvlan';

const hash = (text: string, n: number) => createHash('sha256').update(text).digest('hex').slice(0, n);

/** The name a leg is born under in the node's namespace, before it moves into the sandbox and is renamed. */
export const tempLegName = (kind: LowerKind, endpointId: string): string =>
  `${kind === 'macvlan' ? 'mvtmp' : 'ivtmp'}${hash(endpointId, 10)}`;

/** The name a VLAN sub-interface is born under before it is labelled and renamed to `eth0.100`. */
export const tempParentName = (networkId: string): string => `vltmp${hash(networkId, 10)}`;

/** Docker's dummy parent of a network without `-o parent`: `dm-` and the first 12 of the id. */
export const dummyName = (networkId: string): string => `dm-${networkId.slice(0, 12)}`;

export interface LegLabel {
  networkId: string;
  endpointId: string;
  ifName: string;
  address: string;
  /** The default route set through this leg: its next hop, 'dev' for a route without one (ipvlan l3), '-' for none. */
  gateway: string;
}

const head = (kind: LowerKind) => `swarmlite-${kind}`;

export const parentLabel = (kind: LowerKind, owner: string, networkId: string): string =>
  `${head(kind)} owner=${owner} net=${networkId} parent`;

/** The network id of one of `owner`'s parent labels; undefined for any other alias. */
export function parseParentLabel(
  kind: LowerKind,
  owner: string,
  alias: string | undefined,
): string | undefined {
  const m = alias && new RegExp(`^${head(kind)} owner=(\\S+) net=(\\S+) parent$`).exec(alias);
  return m && m[1] === owner ? m[2] : undefined;
}

export const legLabel = (kind: LowerKind, owner: string, l: LegLabel): string =>
  `${head(kind)} owner=${owner} net=${l.networkId} ep=${l.endpointId} if=${l.ifName} addr=${l.address} gw=${l.gateway}`;

/** One of `owner`'s leg labels; undefined for any other alias. */
export function parseLegLabel(
  kind: LowerKind,
  owner: string,
  alias: string | undefined,
): LegLabel | undefined {
  const m =
    alias &&
    new RegExp(`^${head(kind)} owner=(\\S+) net=(\\S+) ep=(\\S+) if=(\\S+) addr=(\\S+) gw=(\\S+)$`).exec(
      alias,
    );
  return m && m[1] === owner
    ? { networkId: m[2]!, endpointId: m[3]!, ifName: m[4]!, address: m[5]!, gateway: m[6]! }
    : undefined;
}
