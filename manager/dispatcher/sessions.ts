// The dispatcher's session logic without I/O: which node sessions are live, what each must be sent,
// when a silent node is down, and what leadership gained or lost means for them. It holds state
// across calls (like HeartbeatTracker, which it drives) and answers every event with actions; the
// Dispatcher (dispatcher.ts) owns the gRPC streams and the store, and carries the actions out.
import { nodeToWire } from '../../api/node-wire.js';
import type { SessionMessage__Output } from '../../api/gen/swarmlite/dispatcher/v1/SessionMessage.js';
import type { WeightedManager__Output } from '../../api/gen/swarmlite/dispatcher/v1/WeightedManager.js';
import {
  isEncryptedNetwork,
  isTerminalTaskState,
  type Cluster,
  type Network,
  type Node,
  type Task,
} from '../../api/objects/index.js';
import { keysPrimaryFirst } from '../overlay-keys.js';
import { HEARTBEAT_DEFAULTS, HeartbeatTracker } from './heartbeats.js';

/** Heartbeat periods a new leader waits for nodes that were connected to its predecessor. */
const NEW_LEADER_GRACE_PERIODS = 1.5;

/** What the session messages are made from: the store's nodes, clusters and networks. */
export interface SessionSnapshot {
  nodes: readonly Node[];
  clusters: readonly Cluster[];
  networks: readonly Network[];
  /** Every service's name: the embedded DNS owns these on every node (never forwarded upstream). */
  serviceNames: readonly string[];
  /**
   * The nodes with a live task or attachment on an encrypted overlay (encryptedOverlayNodes): only
   * these are sent the overlay IPsec keys.
   */
  encryptedNodes: ReadonlySet<string>;
}

/**
 * The nodes that need the overlay IPsec keys: those holding a task (or a standalone container's
 * attachment) on an encrypted network that has not ended. A node that never had one never sees a key;
 * one whose last such task ended stops being sent them (it keeps what it had until its overlay removes
 * the SAs with the network's sandbox).
 */
export function encryptedOverlayNodes(networks: readonly Network[], tasks: readonly Task[]): Set<string> {
  const encrypted = new Set(networks.filter((n) => isEncryptedNetwork(n.spec)).map((n) => n.id));
  const nodes = new Set<string>();
  if (encrypted.size === 0) return nodes;
  for (const t of tasks) {
    if (!t.nodeId || isTerminalTaskState(t.status.state)) continue;
    if (t.networks.some((a) => encrypted.has(a.networkId))) nodes.add(t.nodeId);
  }
  return nodes;
}

/** A manager as a session message lists it (proto/dispatcher.proto WeightedManager). */
export type SessionManagerEntry = WeightedManager__Output;

/**
 * What a node's session is sent (proto/dispatcher.proto SessionMessage): its node, the managers, the
 * gossip keys (primary, highest Lamport time, first), the ingress network once allocated and the
 * swarm's service names, sorted (see SessionSnapshot.serviceNames).
 */
export type SessionMessage = SessionMessage__Output;

export type EndReason = 'superseded' | 'expired' | 'not-leader' | 'removed';

export type DispatcherAction =
  /** Send a session message on the node's session stream. */
  | { type: 'send'; nodeId: string; sessionId: string; message: SessionMessage }
  /** End one node's session (and its assignment stream, unless only superseded). */
  | { type: 'end'; nodeId: string; sessionId: string; reason: EndReason }
  /** Leadership is gone: every session, assignment and work stream ends with a redirect. */
  | { type: 'end-all' }
  | { type: 'mark-down'; nodeIds: string[] };

interface Live {
  sessionId: string;
  /** What the last message carried that the node acts on (volatile fields left out). */
  lastSent: string;
}

export class DispatcherSessions {
  private tracker = new HeartbeatTracker(HEARTBEAT_DEFAULTS);
  private readonly live = new Map<string, Live>();
  private isLeading = false;

  get leading(): boolean {
    return this.isLeading;
  }

  get periodMs(): number {
    return this.tracker.periodMs;
  }

  /**
   * This manager became leader. Nodes had sessions with the old leader, whose last beats this leader
   * never saw: each node not down gets a short grace to reconnect here. Live nodes retry every 500 ms
   * at most and are sent on to the leader by any follower, so they are back well within it; a node
   * that died with the old leader is down an election plus the grace after its death.
   */
  lead(nodes: readonly Node[], periodMs: number, now: number): void {
    if (this.isLeading) return;
    this.isLeading = true;
    this.tracker = new HeartbeatTracker({ ...HEARTBEAT_DEFAULTS, periodMs });
    const grace = periodMs * NEW_LEADER_GRACE_PERIODS;
    for (const node of nodes) {
      if (!node.removed && node.status.state !== 'down')
        this.tracker.open(node.id, 'awaiting-session', now, grace);
    }
  }

  /** Leadership lost: nodes are sent to the new leader. */
  unlead(): DispatcherAction[] {
    if (!this.isLeading) return [];
    this.isLeading = false;
    this.live.clear();
    return [{ type: 'end-all' }];
  }

  /** Whether `sessionId` is the node's live session. */
  isCurrent(nodeId: string, sessionId: string): boolean {
    return this.live.get(nodeId)?.sessionId === sessionId;
  }

  /** A node registered (its Ready state is written): the newest session replaces an older one. */
  registered(nodeId: string, sessionId: string, now: number, snapshot: SessionSnapshot): DispatcherAction[] {
    if (!this.isLeading) return [];
    const actions: DispatcherAction[] = [];
    const old = this.live.get(nodeId);
    if (old) actions.push({ type: 'end', nodeId, sessionId: old.sessionId, reason: 'superseded' });
    this.live.set(nodeId, { sessionId, lastSent: '' });
    this.tracker.open(nodeId, sessionId, now);
    return [...actions, ...this.updates(snapshot, nodeId)];
  }

  /**
   * The node's session stream went away. The heartbeat deadline, not the stream, decides when the
   * node is down: a reconnect may be quick.
   */
  streamClosed(nodeId: string, sessionId: string): void {
    if (this.isCurrent(nodeId, sessionId)) this.live.delete(nodeId);
  }

  /** A heartbeat; false when the session is unknown or superseded (the node must register again). */
  beat(nodeId: string, sessionId: string, now: number): boolean {
    return this.isLeading && this.tracker.beat(nodeId, sessionId, now);
  }

  /** The store changed: what each live session (or only `nodeId`'s) must be sent. */
  updates(snapshot: SessionSnapshot, nodeId?: string): DispatcherAction[] {
    if (!this.isLeading) return [];
    const actions: DispatcherAction[] = [];
    for (const [id, s] of this.live) {
      if (nodeId !== undefined && id !== nodeId) continue;
      const node = snapshot.nodes.find((n) => n.id === id);
      if (!node || node.removed) {
        this.live.delete(id);
        actions.push({ type: 'end', nodeId: id, sessionId: s.sessionId, reason: 'removed' });
        continue;
      }
      const message = sessionMessage(snapshot, node, s.sessionId, this.tracker.periodMs);
      const key = messageKey(message, node);
      if (key === s.lastSent) continue;
      s.lastSent = key;
      actions.push({ type: 'send', nodeId: id, sessionId: s.sessionId, message });
    }
    return actions;
  }

  /**
   * Nodes whose heartbeat deadline passed: their sessions end and they are marked down. `checkEveryMs`:
   * how often the caller checks (a late check is this manager's stall, not the nodes' silence).
   */
  expire(now: number, checkEveryMs?: number): DispatcherAction[] {
    if (!this.isLeading) return [];
    const expired = this.tracker.takeExpired(now, checkEveryMs);
    if (expired.length === 0) return [];
    const actions: DispatcherAction[] = [];
    for (const nodeId of expired) {
      const s = this.live.get(nodeId);
      this.live.delete(nodeId);
      actions.push({ type: 'end', nodeId, sessionId: s?.sessionId ?? '', reason: 'expired' });
    }
    return [...actions, { type: 'mark-down', nodeIds: expired }];
  }

  /** Marking down failed (no quorum, a lost proposal): the nodes expire again on the next check. */
  markDownFailed(nodeIds: readonly string[], now: number): void {
    if (!this.isLeading) return;
    for (const nodeId of nodeIds) this.tracker.open(nodeId, 'expired', now, 0);
  }
}

/** Managers, leader first, as a node should try them. */
function sessionManagers(nodes: readonly Node[]): SessionManagerEntry[] {
  return nodes
    .filter((n) => n.managerStatus && n.role === 'manager' && !n.removed)
    .map((n) => ({ addr: n.managerStatus!.addr, nodeId: n.id, leader: n.managerStatus!.leader }))
    .sort((a, b) => Number(b.leader) - Number(a.leader) || a.addr.localeCompare(b.addr));
}

function sessionMessage(
  snapshot: SessionSnapshot,
  node: Node,
  sessionId: string,
  heartbeatPeriodMs: number,
): SessionMessage {
  const cluster = snapshot.clusters[0];
  const networkKeys = (cluster?.encryptionKeys ?? [])
    .filter((k) => k.subsystem === 'gossip')
    .sort((a, b) => b.lamportTime - a.lamportTime)
    .map((k) => Buffer.from(k.key, 'base64'));
  // Every node builds its ingress sandbox on the ingress network, once it is allocated.
  const ingress = snapshot.networks.find((n) => n.spec.ingress && n.vni > 0);
  const overlay = snapshot.encryptedNodes.has(node.id) ? cluster?.overlayKeys : undefined;
  return {
    sessionId,
    heartbeatPeriodMs,
    managers: sessionManagers(snapshot.nodes),
    node: nodeToWire(node),
    networkKeys,
    ingressNetwork: ingress ?? null,
    ingressAddress: node.ingressAddress ?? '',
    serviceNames: [...snapshot.serviceNames].sort(),
    overlayKeys: overlay
      ? keysPrimaryFirst(overlay).map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') }))
      : [],
    overlayPrimaryKey: overlay?.primary ?? 0,
  };
}

/** Only what a node acts on is compared: volatile fields (versions, timestamps) would resend constantly. */
function messageKey(msg: SessionMessage, node: Node): string {
  const ingress = msg.ingressNetwork;
  return JSON.stringify([
    msg.managers,
    node.spec,
    node.role,
    msg.networkKeys.map((k) => k.toString('hex')),
    msg.ingressAddress,
    ingress && [ingress.id, ingress.vni, ingress.ipam],
    msg.serviceNames,
    msg.overlayKeys.map((k) => [k.id, k.key.toString('hex')]),
    msg.overlayPrimaryKey,
  ]);
}
