// The manager, as the daemon sees it: everything outside manager/ reaches it through this file (the
// lint rule in eslint.config.js enforces it). The daemon starts and stops a Manager for the node's role,
// and uses the CA and leadership helpers for membership (init, join, certificate renewal).
export { clusterIdOfCA, needsRenewal, renewalTime } from './ca/identity.js';
export { serveExecCall } from './controlapi/streams.js';
export type { ExecRequest, LogsRequest, Sink } from './controlapi/streams.js';
export { newGossipKey } from './keymanager.js';
export { caDigest, createCsr, createRootCA, generateNodeKey, signNodeCertificate } from './ca/certs.js';
export { renewNodeCertificate, requestNodeCertificate } from './ca/client.js';
export type { IssuedNodeCertificate } from './ca/client.js';
export { MANAGER_CHANNEL_OPTIONS, TlsMaterialProvider, clientCredentials } from './ca/credentials.js';
export type { TlsMaterial } from './ca/credentials.js';
export { newJoinToken } from './ca/tokens.js';
export { LEADER_ADDR_METADATA, callLeader } from './leadership.js';
export { Manager, newNodeObject, raftDataDir } from './manager.js';
export type { ImageResolution, ImageResolver } from './controlapi/service-context.js';
export { pipeExec, routeControl, routeExec, routeLogs } from './control-router.js';
export { readConsistency, type ReadConsistency } from './read-index.js';
export type { ExecInput, ExecOutput, LogMessage } from './dispatcher/node-work.js';
export { forceNewCluster } from './recovery.js';
export { networkToWire } from './controlapi/objects-to-wire.js';
