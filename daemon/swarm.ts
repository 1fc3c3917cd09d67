// This daemon's part in a swarm, as the local API sees it: membership (membership.ts: init, join,
// leave, certificates), the manager role when it has one (role-supervisor.ts), what every node runs
// (worker-role.ts), and this facade routing control calls, `service logs` and `exec` to the leader.
import type { NodeLocalSwarmNetworks } from '../worker/network/node-local.js';
import { UserError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import {
  networkToWire,
  pipeExec,
  routeControl,
  routeExec,
  routeLogs,
  type ReadConsistency,
} from '../manager/index.js';
import type { ExecInput, ExecOutput, ExecRequest, LogMessage, LogsRequest, Sink } from '../manager/index.js';
import {
  Membership,
  NOT_IN_SWARM,
  type InitRequest,
  type InitResult,
  type JoinRequest,
} from './membership.js';
import type { DaemonOptions } from './options.js';
import type { ControlCalls } from '../api/rpc.js';
import type { ListNetworksRequest__Output } from '../api/gen/swarmlite/control/v1/ListNetworksRequest.js';
import type { ImageService } from '../worker/images/images.js';

export type { InitRequest, JoinRequest } from './membership.js';

const NOT_A_MANAGER =
  "this node is not a swarm manager: run this on a manager, or use 'swarmlite init' / 'swarmlite join' to make this node part of a swarm";

export class SwarmNode {
  private readonly membership: Membership;

  constructor(opts: DaemonOptions, log: Logger, images?: ImageService) {
    this.membership = new Membership(opts, log, images);
  }

  /** The node's local networks are open: tasks on node-local swarm networks can be plugged in. */
  useNodeLocal(nodeLocal: NodeLocalSwarmNetworks): void {
    this.membership.worker.useNodeLocal(nodeLocal);
  }

  resume(): Promise<void> {
    return this.membership.resume();
  }

  init(req: InitRequest): Promise<InitResult> {
    return this.membership.init(req);
  }

  join(req: JoinRequest): Promise<{ nodeId: string; role: string }> {
    return this.membership.join(req);
  }

  leave(force: boolean): Promise<void> {
    return this.membership.leave(force);
  }

  stop(): Promise<void> {
    return this.membership.stop();
  }

  get nodeId(): string | undefined {
    return this.membership.swarm.state?.nodeId;
  }

  info() {
    const { swarm, worker, roles, broken } = this.membership;
    const s = swarm.state;
    if (broken) return { swarmState: 'error', swarmError: broken };
    if (!s) return { swarmState: 'inactive' };
    const m = roles.manager;
    const base = {
      swarmState: worker.connectedTo || m?.isLeader() ? 'active' : 'pending',
      clusterId: s.clusterId,
      nodeId: s.nodeId,
      role: s.role,
      managerAddrs: worker.knownManagers() ?? s.managers,
    };
    if (!m) return base;
    const status = m.raft.status();
    const nodes = m.store.view((tx) => tx.list('node')).filter((n) => !n.removed);
    return {
      ...base,
      isLeader: m.isLeader(),
      leaderAddr: m.leaderAddr(),
      nodes: nodes.length,
      managers: nodes.filter((n) => n.role === 'manager').length,
      raftStatus: `${status.role} term ${status.term} commit ${status.commit} applied ${status.applied}`,
    };
  }

  /**
   * A control-API call from the local CLI: only on a manager, executed on the leader; a read asking
   * for local consistency is answered by this manager from its own store.
   */
  async control<T>(
    call: (control: ControlCalls) => Promise<T>,
    consistency: ReadConsistency = 'linearizable',
  ): Promise<T> {
    const { swarm, roles } = this.membership;
    if (!swarm.state || !roles.manager) throw new UserError(NOT_A_MANAGER);
    return routeControl(roles.manager, call, {
      managers: this.membership.knownManagers(),
      credentials: swarm.credentials(),
      consistency,
    });
  }

  /** The swarm's attachable overlays for this node's containers; undefined outside a swarm. */
  containerNetworks() {
    return this.membership.swarm.state ? this.membership.worker.containerNetworks() : undefined;
  }

  /** The swarm side of the containers' DNS (the overlays' records; stable, empty outside a swarm). */
  get containerEndpoints() {
    return this.membership.worker.containerEndpoints;
  }

  /**
   * `network ls`'s swarm part. A manager asks the store (through the leader, or its own for local
   * consistency); a worker cannot, and answers as Docker's does from what it holds: ingress and the
   * overlays of its tasks, from its dispatcher session.
   */
  async listNetworks(req: ListNetworksRequest__Output, consistency: ReadConsistency) {
    const { swarm, roles, worker } = this.membership;
    if (swarm.state && !roles.manager) return { networks: worker.swarmNetworks().map(networkToWire) };
    return this.control((c) => c.listNetworks(req), consistency);
  }

  /** What this node holds of a network (its endpoints, peers, kernel state): `network inspect`. */
  networkLocal(req: { networkId?: string; vni?: number; verbose?: boolean }) {
    return this.membership.worker.networkLocal(req);
  }

  /** `service logs` from the local CLI: through the leader, from every node holding one of the tasks. */
  serviceLogs(req: LogsRequest, sink: Sink<LogMessage>): () => void {
    const { swarm, roles } = this.membership;
    if (!swarm.state || !roles.manager) throw new UserError(NOT_A_MANAGER);
    return routeLogs(roles.manager, req, sink, swarm.credentials());
  }

  /** `exec` from the local CLI: through the leader, on the node running the task. */
  exec(req: ExecRequest, sink: Sink<ExecOutput>): { input(i: ExecInput): void; cancel(): void } {
    const { swarm, roles, worker } = this.membership;
    if (!swarm.state) throw new UserError(NOT_IN_SWARM);
    if (roles.manager) return routeExec(roles.manager, req, sink, swarm.credentials());
    // A worker goes through its dispatcher session: the leader finds the node that runs the task.
    const stream = worker.exec();
    if (!stream) throw new UserError('this node is not connected to a manager right now; try again shortly');
    return pipeExec(stream, req, sink);
  }
}
