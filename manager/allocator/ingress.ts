// The `ingress` network: the routing mesh's overlay (10.255.0.0/16, VNI 4096), created with the swarm.
import type { Network, NewObject } from '../../api/objects/index.js';

const INGRESS_NETWORK_NAME = 'ingress';

export function ingressNetwork(id: string): NewObject<Network> {
  return {
    id,
    spec: {
      name: INGRESS_NETWORK_NAME,
      driver: 'overlay',
      ipam: [], // the allocator gives it DEFAULT_INGRESS_SUBNET
      attachable: false,
      internal: false,
      ingress: true,
      options: {},
      labels: {},
    },
    ipam: [],
    vni: 0,
  };
}
