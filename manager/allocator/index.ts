// The allocator (DESIGN.md §3): pure IPAM, VNIs, VIPs and published ports over an in-memory state the
// leader rebuilds from the store. See README.md.
export {
  allocateNetwork,
  checkNetwork,
  releaseNetwork,
  restoreNetwork,
  type NetworkAllocation,
} from './networks.js';
export {
  allocateService,
  checkServicePorts,
  releaseService,
  restoreService,
  type ServiceAllocation,
} from './services.js';
export { allocateTask, releaseTask, restoreTask } from './tasks.js';
export { allocateNodeIngress, releaseNodeIngress, restoreNodeIngress } from './nodes.js';
export {
  allocatorStateFrom,
  taskHoldsAddresses,
  type AllocatorObjects,
  type RestoredAllocator,
} from './restore.js';
export { AllocatorState, FIRST_VNI, INGRESS_VNI, MAX_VNI } from './state.js';
export { validateNetworkSpec, DEFAULT_INGRESS_SUBNET, MAX_SUBNET_PREFIX } from './subnets.js';
export { validatePortSpecs, DYNAMIC_PORT_MIN, DYNAMIC_PORT_MAX } from './ports.js';
export type { AllocFailure, AllocResult, FailureKind } from './result.js';
