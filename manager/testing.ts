// The manager's second entrance, for daemon/control-plane only (eslint.config.js keeps everyone else
// out): the pieces an in-process control plane composes with worker agents, for its tests and the
// scheduler benchmark. The leader's controllers, the control API's service calls, the dispatcher, the
// store over an in-memory log or a real Raft node, and the CA's direct issuing; the daemon itself uses
// none of it.
export { AllocatorController } from './allocator/controller.js';
export { ingressNetwork } from './allocator/ingress.js';
export { GrpcError } from './ca/authz.js';
export { createRootCA, type CertificateAuthority } from './ca/certs.js';
export { clientCredentials, managerServerCredentials, TlsMaterialProvider } from './ca/credentials.js';
export { issueDirect, TEST_CHANNEL_OPTIONS } from './ca/test-harness.js';
export { NodeAssignments } from './dispatcher/assignments.js';
export { Dispatcher } from './dispatcher/dispatcher.js';
export { StatusBatcher } from './dispatcher/task-status.js';
export { OrchestratorController } from './orchestrator/controller.js';
export { openRaftNode } from './raft/node/open.js';
export type { NodeMetrics } from './raft/node/options.js';
export type { RaftNode } from './raft/node/raft-node.js';
export { Role } from './raft/types.js';
export { SchedulerController } from './scheduler/controller.js';
export { serviceHandlers } from './controlapi/service-handlers.js';
export { scheduleBatch } from './scheduler/index.js';
export { InMemoryLog, Store, swarmSchema } from './store/index.js';
export { sampleNetwork } from './store/test-fixtures.js';
