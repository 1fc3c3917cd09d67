// Networks: a VNI and the subnets (each with its gateway and ip-range) that addresses come from.
import { isNodeLocalNetwork, type IpamConfig, type Network } from '../../api/objects/index.js';
import { AddressPool } from './address-pool.js';
import { formatAddress, overlaps, parseCidr, type Cidr } from '../../lib/ipv4.js';
import { exhausted, fail, ok, type AllocResult } from './result.js';
import { FIRST_VNI, INGRESS_VNI, MAX_VNI, type AllocatorState, type NetworkState } from './state.js';
import {
  carveSubnet,
  checkIpamConfig,
  checkNetworkIpam,
  DEFAULT_INGRESS_SUBNET,
  validateNetworkSpec,
  type CheckedIpam,
} from './subnets.js';

/** What the allocator fills into a Network: `ipam` (gateways resolved) and `vni`. */
export interface NetworkAllocation {
  ipam: IpamConfig[];
  vni: number;
}

type NetworkInput = Pick<Network, 'id' | 'spec'>;

function allocationOf(network: NetworkState): NetworkAllocation {
  return { ipam: network.pools.map(ipamOf), vni: network.vni };
}

function ipamOf(pool: AddressPool): IpamConfig {
  const gateway = formatAddress(pool.gateway);
  return { subnet: pool.subnet.text, gateway, ipRange: pool.range === pool.subnet ? '' : pool.range.text };
}

/**
 * Subnets a new network must not overlap: every other network's, plus the routing mesh's default range
 * while no ingress network exists yet (it is made at init, and must find its range free).
 */
function forbiddenSubnets(state: AllocatorState, spec: Network['spec']): { subnet: Cidr; owner: string }[] {
  const used = state.usedSubnets().map((u) => ({ subnet: u.subnet, owner: `network ${u.network.name}` }));
  if (!spec.ingress && !state.ingressNetwork()) {
    used.push({ subnet: parseCidr(DEFAULT_INGRESS_SUBNET) as Cidr, owner: 'the ingress network' });
  }
  return used;
}

function chooseVni(state: AllocatorState, network: NetworkInput): AllocResult<number> {
  if (network.spec.ingress) {
    return state.vnis.has(INGRESS_VNI)
      ? fail('conflict', `VNI ${INGRESS_VNI} is already in use`)
      : ok(INGRESS_VNI);
  }
  // Lowest free: networks number in the hundreds at most, so a scan of the held set is cheap.
  for (let vni = FIRST_VNI; vni <= MAX_VNI; vni++) if (!state.vnis.has(vni)) return ok(vni);
  return exhausted('vni', `no free VXLAN id between ${FIRST_VNI} and ${MAX_VNI}`);
}

function chooseSubnets(state: AllocatorState, network: NetworkInput): AllocResult<CheckedIpam[]> {
  const { spec } = network;
  const invalid = validateNetworkSpec(spec);
  if (invalid) return fail('invalid', invalid);
  const existing = spec.ingress ? state.ingressNetwork() : undefined;
  if (existing) return fail('conflict', `an ingress network already exists: ${existing.name}`);
  const checked = checkNetworkIpam(spec);
  if (typeof checked === 'string') return fail('invalid', checked);
  const forbidden = forbiddenSubnets(state, spec);
  for (const c of checked) {
    const clash = forbidden.find((f) => overlaps(f.subnet, c.subnet));
    if (clash)
      return fail(
        'conflict',
        `subnet ${c.subnet.text} overlaps subnet ${clash.subnet.text} of ${clash.owner}`,
      );
  }
  if (checked.length > 0) return ok(checked);
  if (spec.ingress) {
    const ingress = checkIpamConfig({
      subnet: DEFAULT_INGRESS_SUBNET,
      gateway: '',
      ipRange: '',
    }) as CheckedIpam;
    const clash = forbidden.find((f) => overlaps(f.subnet, ingress.subnet));
    if (clash)
      return fail(
        'conflict',
        `subnet ${DEFAULT_INGRESS_SUBNET} overlaps subnet ${clash.subnet.text} of ${clash.owner}`,
      );
    return ok([ingress]);
  }
  const pools = state.addressPools;
  if (typeof pools === 'string') return fail('invalid', pools);
  const carved = carveSubnet(
    pools,
    forbidden.map((f) => f.subnet),
  );
  if (!carved) {
    const names = pools.pools.map((p) => p.text).join(', ');
    return exhausted(names, `default address pool ${names} has no free /${pools.subnetSize} subnet left`);
  }
  return ok([checkIpamConfig({ subnet: carved.text, gateway: '', ipRange: '' }) as CheckedIpam]);
}

function nodeLocalState(network: NetworkInput): NetworkState {
  return { id: network.id, name: network.spec.name, ingress: false, vni: 0, pools: [], nodeLocal: true };
}

function adopt(
  state: AllocatorState,
  network: NetworkInput,
  vni: number,
  subnets: CheckedIpam[],
): NetworkState {
  const held: NetworkState = {
    id: network.id,
    name: network.spec.name,
    ingress: network.spec.ingress,
    vni,
    pools: subnets.map((s) => new AddressPool(s.subnet, s.gateway, s.range)),
  };
  state.networks.set(network.id, held);
  state.vnis.add(vni);
  return held;
}

/**
 * Gives a network its VNI and subnets: the user's (checked against every other network's) or one carved
 * from the default pools. Idempotent: a network already allocated gets its allocation back.
 */
export function allocateNetwork(
  state: AllocatorState,
  network: NetworkInput,
): AllocResult<NetworkAllocation> {
  const known = state.networks.get(network.id);
  if (known) return ok(allocationOf(known));
  if (isNodeLocalNetwork(network.spec)) {
    // Its subnets are each node's (the wire's, a node's own range): nothing cluster-wide to hold.
    const invalid = validateNetworkSpec(network.spec);
    if (invalid) return fail('invalid', invalid);
    state.networks.set(network.id, nodeLocalState(network));
    return ok({ ipam: [], vni: 0 });
  }
  const subnets = chooseSubnets(state, network);
  if (!subnets.ok) return subnets;
  const vni = chooseVni(state, network);
  if (!vni.ok) return vni;
  return ok(allocationOf(adopt(state, network, vni.value, subnets.value)));
}

/**
 * Whether a network spec can be allocated now, without allocating it: what the control API calls at
 * `network create` so overlaps are a user error, not a network stuck unallocated.
 */
export function checkNetwork(state: AllocatorState, network: NetworkInput): AllocResult<void> {
  if (state.networks.has(network.id)) return ok(undefined);
  if (isNodeLocalNetwork(network.spec)) {
    const invalid = validateNetworkSpec(network.spec);
    return invalid ? fail('invalid', invalid) : ok(undefined);
  }
  const subnets = chooseSubnets(state, network);
  if (!subnets.ok) return subnets;
  const vni = chooseVni(state, network);
  return vni.ok ? ok(undefined) : vni;
}

/** Frees a network's subnets and VNI; refused while a service VIP or a task address is still on it. */
export function releaseNetwork(state: AllocatorState, networkId: string): AllocResult<void> {
  const network = state.networks.get(networkId);
  if (!network) return ok(undefined);
  for (const s of state.services.values()) {
    if (s.vips.some((v) => v.networkId === networkId)) {
      return fail('in-use', `network ${network.name} is in use by service ${s.name}`);
    }
  }
  for (const t of state.tasks.values()) {
    if (t.addresses.some((a) => a.networkId === networkId)) {
      return fail('in-use', `network ${network.name} is in use by task ${t.id}`);
    }
  }
  for (const t of state.tasks.values()) {
    if (t.nodeLocal?.includes(networkId))
      return fail('in-use', `network ${network.name} is in use by task ${t.id}`);
  }
  state.networks.delete(networkId);
  if (!network.nodeLocal) state.vnis.delete(network.vni);
  return ok(undefined);
}

/**
 * Re-holds an allocation recorded in the store (Network.ipam and .vni) when the state is rebuilt. An
 * unallocated network (vni 0) is skipped: the allocator will allocate it like a new one.
 */
export function restoreNetwork(state: AllocatorState, network: Network): AllocResult<void> {
  if (network.vni === 0 || network.ipam.length === 0 || state.networks.has(network.id)) return ok(undefined);
  if (state.vnis.has(network.vni))
    return fail('conflict', `network ${network.spec.name}: VNI ${network.vni} is held twice`);
  const subnets: CheckedIpam[] = [];
  for (const config of network.ipam) {
    const checked = checkIpamConfig(config);
    if (typeof checked === 'string') return fail('invalid', `network ${network.spec.name}: ${checked}`);
    const clash = state.usedSubnets().find((u) => overlaps(u.subnet, checked.subnet));
    if (clash) {
      return fail(
        'conflict',
        `network ${network.spec.name}: subnet ${checked.subnet.text} overlaps network ${clash.network.name}`,
      );
    }
    subnets.push(checked);
  }
  adopt(state, network, network.vni, subnets);
  return ok(undefined);
}
