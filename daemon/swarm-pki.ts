// The certificate side of joining and running a swarm, as functions of their inputs: making a new
// swarm's CA and first manager certificate, and getting a certificate from the CA through whichever
// manager leads (the CA writes to the store, so only the leader issues; followers point at it).
import * as grpc from '@grpc/grpc-js';
import { hostname } from 'node:os';
import { UserError } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { newGossipKey } from '../manager/index.js';
import { caDigest, createCsr, createRootCA, generateNodeKey, signNodeCertificate } from '../manager/index.js';
import {
  renewNodeCertificate,
  requestNodeCertificate,
  type IssuedNodeCertificate,
} from '../manager/index.js';
import type { TlsMaterial } from '../manager/index.js';
import { newJoinToken } from '../manager/index.js';
import { LEADER_ADDR_METADATA } from '../manager/index.js';
import { newNodeObject } from '../manager/index.js';
import { defaultClusterSpec, orchestrationLimits, type Cluster, type Node } from '../api/objects/index.js';
import { rpcErrorText } from '../lib/grpc-errors.js';

export interface NewSwarmSettings {
  advertiseIp: string;
  /** host:port the first manager is reached at. */
  managerAddr: string;
  raftId: number;
  dispatcherHeartbeatMs: number;
  nodeCertExpiryMs: number;
  defaultAddrPool: string[];
  defaultAddrPoolMaskLength: number;
  /** 0 or absent: the defaults (api/objects/cluster.ts). */
  maxReplicas?: number;
  maxTasksPerNode?: number;
}

export interface NewSwarm {
  clusterId: string;
  nodeId: string;
  certs: TlsMaterial;
  cluster: Omit<Cluster, 'meta'>;
  self: Omit<Node, 'meta'>;
}

/** A new swarm's root CA, join tokens, cluster object, and its first manager's identity. */
export async function createSwarm(s: NewSwarmSettings): Promise<NewSwarm> {
  const clusterId = newId();
  const nodeId = newId();
  const spec = defaultClusterSpec();
  if (s.dispatcherHeartbeatMs) spec.dispatcher.heartbeatPeriodMs = s.dispatcherHeartbeatMs;
  if (s.nodeCertExpiryMs) spec.caConfig.nodeCertValidityMs = s.nodeCertExpiryMs;
  if (s.defaultAddrPool.length) spec.defaultAddrPool = [...s.defaultAddrPool];
  if (s.defaultAddrPoolMaskLength) spec.subnetSize = s.defaultAddrPoolMaskLength;
  spec.orchestration = {
    maxReplicas: s.maxReplicas || orchestrationLimits(spec).maxReplicas,
    maxTasksPerNode: s.maxTasksPerNode || orchestrationLimits(spec).maxTasksPerNode,
  };
  const ca = await createRootCA(clusterId);
  const { keyPem } = generateNodeKey();
  const certPem = await signNodeCertificate(ca, await createCsr(keyPem), {
    nodeId,
    role: 'manager',
    clusterId,
    validityMs: spec.caConfig.nodeCertValidityMs,
  });
  const base = newNodeObject(nodeId, 'manager', hostname(), s.managerAddr);
  return {
    clusterId,
    nodeId,
    certs: { caCertPem: ca.certPem, certPem, keyPem },
    cluster: {
      id: clusterId,
      spec,
      rootCA: { certPem: ca.certPem, keyPem: ca.keyPem, digest: caDigest(ca.certPem) },
      joinTokens: { worker: newJoinToken(ca.certPem), manager: newJoinToken(ca.certPem) },
      // Gossip (7946) is encrypted with keys only the swarm's nodes get, through their sessions.
      encryptionKeys: [newGossipKey(1)],
    },
    self: {
      ...base,
      role: 'manager',
      status: { state: 'ready', message: '', addr: s.advertiseIp },
      managerStatus: { raftId: s.raftId, addr: s.managerAddr, reachability: 'reachable', leader: true },
    },
  };
}

const leaderOf = (err: unknown) => {
  const leader = (err as grpc.ServiceError).metadata?.get(LEADER_ADDR_METADATA)[0];
  return typeof leader === 'string' && leader ? leader : undefined;
};

/** Joins the swarm's PKI through the manager the user named, following it to the leader. */
export async function requestCertificateAtLeader(opts: {
  remoteAddr: string;
  token: string;
  advertiseAddr: string;
}): Promise<IssuedNodeCertificate> {
  let addr = opts.remoteAddr;
  for (let attempt = 0; ; attempt++) {
    try {
      return await requestNodeCertificate({
        addr,
        token: opts.token,
        hostname: hostname(),
        advertiseAddr: opts.advertiseAddr,
      });
    } catch (err) {
      const e = err as grpc.ServiceError;
      const leader = leaderOf(err);
      if (e.code === grpc.status.FAILED_PRECONDITION && leader && attempt < 3) {
        addr = leader;
        continue;
      }
      if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED) {
        throw new UserError(`cannot reach a manager at ${addr}: ${rpcErrorText(e)}`);
      }
      throw new UserError(`join refused by ${addr}: ${rpcErrorText(err)}`);
    }
  }
}

/** Renews with the current certificate at the leader, trying the known managers in turn. */
export async function renewCertificateAtLeader(
  managers: string[],
  current: TlsMaterial,
): Promise<IssuedNodeCertificate> {
  let lastError: unknown = new Error('no manager to renew the certificate with');
  for (const addr of managers) {
    try {
      return await renewNodeCertificate({ addr, ...current });
    } catch (err) {
      lastError = err;
      const leader = leaderOf(err);
      if (!leader) continue;
      try {
        return await renewNodeCertificate({ addr: leader, ...current });
      } catch (err2) {
        lastError = err2;
      }
    }
  }
  throw lastError;
}
