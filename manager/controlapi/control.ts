// The control API's node and cluster calls, executed on the leader against the store. Callers are
// authenticated before these run (manager.ts): only managers reach them. Role changes
// only record the desired role here; the role reconciler (roles.ts) carries them out through Raft.
import * as grpc from '@grpc/grpc-js';
import { Mutex } from '../../lib/mutex.js';
import { GrpcError } from '../ca/authz.js';
import { newJoinToken } from '../ca/tokens.js';
import type { RaftNode } from '../raft/node/raft-node.js';
import { type Store } from '../store/index.js';
import { NODE_AVAILABILITIES, NODE_ROLES, type Node, type SwarmObjects } from '../../api/objects/index.js';
import { clusterToWire, nodeToWire } from '../../api/node-wire.js';
import { findNode } from './lookup.js';
import { checkManagerRemoval, type ManagerView } from './quorum.js';
import { isManagerReachable } from '../reachability.js';
import type { UpdateNodeRequest__Output } from '../../api/gen/swarmlite/control/v1/UpdateNodeRequest.js';
import type { ControlUnaryHandlers } from './service-context.js';

export interface ControlContext {
  store: Store<SwarmObjects>;
  raft: RaftNode;
  clusterId: string;
  caCertPem: () => string;
  /** Node ids whose certificates must be refused (deleted or marked removed). */
  isRemoved: (nodeId: string) => boolean;
}

/** Who is calling: a manager's verified certificate (remote), or this manager itself (local API). */
export interface Caller {
  nodeId: string;
  role: 'manager' | 'worker';
}

/** Managers as Raft sees them now (reachability.ts). */
export function managerViews(ctx: ControlContext): ManagerView[] {
  const view = { self: ctx.raft.raftId, members: ctx.raft.status().members };
  return ctx.store.view((tx) =>
    tx
      .list('node')
      // Managers that will stay: a demotion already asked for no longer counts toward the quorum.
      .filter((n) => n.managerStatus && n.role === 'manager' && n.spec.role === 'manager' && !n.removed)
      .map((n) => ({
        nodeId: n.id,
        reachable: isManagerReachable(n.managerStatus!.raftId, view),
      })),
  );
}

function cluster(ctx: ControlContext) {
  const c = ctx.store.view((tx) => tx.get('cluster', ctx.clusterId));
  if (!c) throw new GrpcError(grpc.status.FAILED_PRECONDITION, 'the swarm has no cluster object yet');
  return c;
}

export function managerAddrs(ctx: ControlContext): string[] {
  return ctx.store.view((tx) =>
    tx
      .list('node')
      .filter((n) => n.managerStatus && n.role === 'manager')
      .sort((a, b) => Number(b.managerStatus!.leader) - Number(a.managerStatus!.leader))
      .map((n) => n.managerStatus!.addr),
  );
}

export function controlHandlers(ctx: ControlContext) {
  // Role changes are checked against the quorum and then written: one at a time on this leader, so
  // two concurrent demotions cannot both pass a check that each alone would pass.
  const roleChanges = new Mutex();
  const serializeRoleChange = <T>(fn: () => Promise<T>): Promise<T> => roleChanges.run(fn);

  async function updateNode(req: UpdateNodeRequest__Output) {
    const { role, availability } = req;
    if (role && !(NODE_ROLES as readonly string[]).includes(role)) {
      throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid role '${role}': use manager or worker`);
    }
    if (availability && !(NODE_AVAILABILITIES as readonly string[]).includes(availability)) {
      throw new GrpcError(
        grpc.status.INVALID_ARGUMENT,
        `invalid availability '${availability}': use active, pause or drain`,
      );
    }
    const { version } = req;
    const target = ctx.store.view((tx) => findNode(tx, req.ref));
    if (role === 'worker' && target.spec.role === 'manager') {
      const verdict = checkManagerRemoval(managerViews(ctx), target.id, req.force);
      if (!verdict.ok)
        throw new GrpcError(grpc.status.FAILED_PRECONDITION, `cannot demote: ${verdict.reason}`);
    }
    const { labelAdd, labelRm } = req;
    const { value } = await ctx.store.update((tx) => {
      const current = tx.get('node', target.id);
      if (!current) throw new GrpcError(grpc.status.NOT_FOUND, `node ${target.id} not found`);
      if (version && version !== current.meta.version) {
        throw new GrpcError(
          grpc.status.ABORTED,
          `node ${target.id} changed since version ${version}: read it again`,
        );
      }
      for (const key of labelRm) {
        if (!(key in current.spec.labels)) {
          throw new GrpcError(grpc.status.INVALID_ARGUMENT, `node ${target.id} has no label '${key}'`);
        }
      }
      const labels = { ...current.spec.labels, ...labelAdd };
      for (const key of labelRm) delete labels[key];
      const spec = {
        ...current.spec,
        role: (role || current.spec.role) as Node['spec']['role'],
        availability: (availability || current.spec.availability) as Node['spec']['availability'],
        labels,
      };
      return tx.update('node', { ...current, spec });
    });
    return { node: nodeToWire(value) };
  }

  return {
    async ListNodes({ role }) {
      const nodes = ctx.store
        .view((tx) => tx.list('node'))
        .filter((n) => !n.removed && (!role || n.role === role));
      return { nodes: nodes.map(nodeToWire) };
    },

    async GetNode(req) {
      return { node: nodeToWire(ctx.store.view((tx) => findNode(tx, req.ref))) };
    },

    UpdateNode(req) {
      return req.role ? serializeRoleChange(() => updateNode(req)) : updateNode(req);
    },

    async RemoveNode(req) {
      const target = ctx.store.view((tx) => findNode(tx, req.ref));
      if (target.role === 'manager' || target.spec.role === 'manager' || target.managerStatus) {
        throw new GrpcError(
          grpc.status.FAILED_PRECONDITION,
          `node ${target.id} is a manager of the swarm: demote it first (swarmlite node demote ${target.id})`,
        );
      }
      if (target.status.state === 'ready' && !req.force) {
        throw new GrpcError(
          grpc.status.FAILED_PRECONDITION,
          `node ${target.id} is not down and can't be removed: stop it or use --force`,
        );
      }
      // Kept as a tombstone so its certificate stays refused (SwarmKit keeps a removed-node list).
      await ctx.store.update((tx) => {
        const current = tx.get('node', target.id);
        if (current)
          tx.update('node', {
            ...current,
            removed: true,
            status: { ...current.status, state: 'down', message: 'removed' },
          });
      });
      return {};
    },

    async GetCluster() {
      const c = cluster(ctx);
      const leader = ctx.store.view((tx) => tx.list('node').find((n) => n.managerStatus?.leader));
      return { cluster: clusterToWire(c), leaderNodeId: leader?.id ?? '', managerAddrs: managerAddrs(ctx) };
    },

    async GetJoinTokens() {
      return { ...cluster(ctx).joinTokens };
    },

    async RotateJoinToken({ role }) {
      if (role !== 'worker' && role !== 'manager') {
        throw new GrpcError(grpc.status.INVALID_ARGUMENT, `unknown role '${role}': use worker or manager`);
      }
      const { value } = await ctx.store.update((tx) => {
        const c = tx.get('cluster', ctx.clusterId)!;
        return tx.update('cluster', {
          ...c,
          joinTokens: { ...c.joinTokens, [role]: newJoinToken(c.rootCA.certPem) },
        });
      });
      return { ...value.joinTokens };
    },

    async JoinRaft(req, caller) {
      const { raftId, addr } = req;
      if (caller.nodeId !== req.nodeId) {
        throw new GrpcError(
          grpc.status.PERMISSION_DENIED,
          `node ${caller.nodeId} cannot join Raft as ${req.nodeId}`,
        );
      }
      if (!Number.isSafeInteger(raftId) || raftId <= 0 || !/^[0-9.]+:[0-9]+$/.test(addr)) {
        throw new GrpcError(
          grpc.status.INVALID_ARGUMENT,
          'JoinRaft needs a positive raft id and a host:port address',
        );
      }
      const node = ctx.store.view((tx) => tx.get('node', caller.nodeId));
      if (!node || node.spec.role !== 'manager') {
        throw new GrpcError(
          grpc.status.PERMISSION_DENIED,
          `node ${caller.nodeId} is not meant to be a manager`,
        );
      }
      const members = ctx.raft.status().members;
      const previous = node.managerStatus?.raftId;
      if (previous && previous !== raftId && members.some((m) => m.id === previous)) {
        // The node lost its Raft state and comes back under a new member id: retire the old one.
        await ctx.raft.removeMember(previous);
      }
      if (!members.some((m) => m.id === raftId)) await ctx.raft.addLearner(raftId, addr);
      await ctx.store.update((tx) => {
        const current = tx.get('node', caller.nodeId)!;
        tx.update('node', {
          ...current,
          managerStatus: { raftId, addr, reachability: 'unknown', leader: false },
        });
      });
      return {
        members: ctx.raft.status().members.map((m) => ({ raftId: m.id, addr: m.addr, nodeId: '' })),
      };
    },

    async LeaveRaft(req, caller) {
      if (caller.nodeId !== req.nodeId) {
        throw new GrpcError(
          grpc.status.PERMISSION_DENIED,
          `node ${caller.nodeId} cannot take ${req.nodeId} out of Raft`,
        );
      }
      const node = ctx.store.view((tx) => tx.get('node', caller.nodeId));
      const raftId = node?.managerStatus?.raftId;
      if (!node || !raftId) return {};
      if (raftId === ctx.raft.raftId) {
        // The leader itself is leaving: hand leadership over; the caller retries at the new leader.
        const other = ctx.raft.status().members.find((m) => m.id !== raftId && !m.learner);
        if (other) await ctx.raft.transferLeadership(other.id);
        throw new GrpcError(grpc.status.UNAVAILABLE, 'leadership moved away from the leaving manager; retry');
      }
      await ctx.raft.removeMember(raftId);
      await ctx.store.update((tx) => {
        const current = tx.get('node', caller.nodeId);
        if (!current) return;
        const { managerStatus: _gone, ...rest } = current;
        tx.update('node', {
          ...rest,
          role: 'worker',
          spec: { ...current.spec, role: 'worker' },
          status: { ...current.status, state: 'down', message: 'left the swarm' },
        } as Node);
      });
      return {};
    },
  } satisfies Partial<ControlUnaryHandlers>;
}
