// The overlay's gateway bridge (`<prefix>_gwbridge`, overlay/plan-gateway.ts) as `network ls` and
// `network inspect` show it on a swarm node: Docker's docker_gwbridge, a local bridge network. The
// overlay driver owns the device (it makes it when a task or the ingress sandbox needs egress and
// removes it when none does); this record only describes it, so no driver is ever given it, and it is
// there exactly while the node is in a swarm. Named docker_gwbridge, as Docker's: the name courses
// and scripts look for; the device's own name is in its options, as Docker's bridge.name option says.
import { createHash } from 'node:crypto';
import type { LocalNetworkRecord } from './local-store.js';
import { gatewayBridgeName } from './overlay/names.js';
import { DEFAULT_GATEWAY_BRIDGE } from './overlay/types.js';

export const GATEWAY_NETWORK_NAME = 'docker_gwbridge';

/**
 * The record of the node's gateway bridge in swarm `nodeId`: its id is derived from the node id, so it
 * stays the same across daemon restarts and changes when the node joins again (a new node id).
 */
export function gatewayBridgeRecord(prefix: string, nodeId: string, created: string): LocalNetworkRecord {
  return {
    id: createHash('sha256').update(`swarmlite gateway bridge ${nodeId}`).digest('hex'),
    name: GATEWAY_NETWORK_NAME,
    driver: 'bridge',
    subnets: [{ subnet: DEFAULT_GATEWAY_BRIDGE.subnet, gateway: DEFAULT_GATEWAY_BRIDGE.gateway }],
    internal: false,
    options: {
      'com.docker.network.bridge.name': gatewayBridgeName(prefix),
      'com.docker.network.bridge.enable_icc': 'false',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
    },
    created,
  };
}
