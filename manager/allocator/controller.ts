// The allocator controller (leader only): the thin shell around the pure allocator. It rebuilds the
// allocation state from the store when leadership starts, then on store events gives new networks their
// subnets and VNI, services their ports and VIPs (again after every spec change), and new tasks their
// addresses, moving them new → pending for the scheduler. A task that cannot get an address stays
// `new` with the allocator's reason in status.err (`service ps` shows it) and is retried whenever
// something is released. Terminal and deleted tasks give their addresses back.
import type { Logger } from '../../lib/log.js';
import { chunks, ReconcileLoop, TASKS_PER_BATCH } from '../reconcile-loop.js';
import { type Store, type StoreEvent } from '../store/index.js';
import {
  isTerminalTaskState,
  retiredBeforePlacement,
  type Network,
  type Node,
  type Service,
  type SwarmObjects,
  type Task,
} from '../../api/objects/index.js';
import {
  allocateNetwork,
  allocateNodeIngress,
  allocateService,
  allocateTask,
  allocatorStateFrom,
  releaseNetwork,
  releaseNodeIngress,
  releaseService,
  releaseTask,
  type AllocatorState,
} from './index.js';

export interface AllocatorControllerDeps {
  store: Store<SwarmObjects>;
  clusterId: string;
  log: Logger;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class AllocatorController {
  private state: AllocatorState | undefined;
  /** Service id → the specVersion whose endpoint is allocated and written (this leadership). */
  private readonly allocatedSpec = new Map<string, number>();
  /** Networks deleted from the store while tasks still held addresses on them. */
  private readonly networksToRelease = new Set<string>();
  /** A pass failed after allocating in memory what it could not write: rebuild from the store first. */
  private stale = false;
  private readonly loop: ReconcileLoop;
  private readonly log: Logger;

  constructor(private readonly deps: AllocatorControllerDeps) {
    this.log = deps.log.child({ controller: 'allocator' });
    this.loop = new ReconcileLoop({
      name: 'allocator',
      store: deps.store,
      kinds: ['network', 'service', 'task', 'node'],
      onEvent: (e) => this.onEvent(e),
      pass: (full) => this.pass(full),
      log: this.log,
    });
  }

  /** The live allocation state, for the control API's conflict checks (read only). */
  allocation(): AllocatorState {
    if (!this.state) this.rebuild();
    return this.state!;
  }

  start(): void {
    this.rebuild();
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
    this.state = undefined;
    this.allocatedSpec.clear();
    this.networksToRelease.clear();
  }

  private rebuild(): void {
    const objects = this.deps.store.view((tx) => ({
      cluster: tx.get('cluster', this.deps.clusterId),
      networks: tx.list('network'),
      services: tx.list('service'),
      tasks: tx.list('task'),
      nodes: tx.list('node'),
    }));
    const { state, problems } = allocatorStateFrom(objects);
    for (const problem of problems)
      this.log.warn({ problem }, 'allocation recorded in the store was not restored');
    this.state = state;
    this.allocatedSpec.clear();
  }

  private onEvent(e: StoreEvent<SwarmObjects>): boolean {
    if (e.type !== 'object' || !this.state) return e.type === 'restored';
    if (e.kind === 'task') {
      const task = e.object as Task;
      if (e.op === 'delete' || isTerminalTaskState(task.status.state)) {
        const held = this.state.tasks.has(task.id);
        releaseTask(this.state, task.id);
        return held; // freed addresses may unblock a task waiting in `new`
      }
      return task.status.state === 'new';
    }
    if (e.kind === 'node') {
      const node = e.object as Node;
      if (e.op === 'delete' || node.removed) {
        releaseNodeIngress(this.state, node.id);
        return false;
      }
      return !node.ingressAddress;
    }
    if (e.kind === 'service' && e.op === 'delete') {
      releaseService(this.state, e.object.id);
      this.allocatedSpec.delete(e.object.id);
      return true;
    }
    if (e.kind === 'network' && e.op === 'delete') {
      this.networksToRelease.add(e.object.id);
      return true;
    }
    return true;
  }

  /**
   * A standalone container's network attachment (controlapi/attachments.ts): its address, then straight
   * to `assigned`, as it is already on its node and nothing schedules or runs it.
   */
  private attachment(state: AllocatorState, t: Task, now: string): Task | undefined {
    const r = allocateTask(state, t);
    if (!r.ok)
      return t.status.err === r.reason.message
        ? undefined
        : { ...t, status: { ...t.status, err: r.reason.message } };
    return {
      ...t,
      networks: r.value,
      status: {
        ...t.status,
        state: 'assigned',
        timestamp: now,
        message: 'network attachment allocated',
        err: '',
      },
    };
  }

  private async pass(full: boolean): Promise<void> {
    if (full || this.stale) this.rebuild();
    this.stale = false;
    try {
      await this.allocate(this.state!);
    } catch (err) {
      this.stale = true;
      throw err;
    }
  }

  private async allocate(state: AllocatorState): Promise<void> {
    for (const id of this.networksToRelease) {
      if (releaseNetwork(state, id).ok) this.networksToRelease.delete(id);
    }
    const { networks, services, tasks, nodes } = this.deps.store.view((tx) => ({
      networks: tx.list('network').filter((n) => n.vni === 0),
      services: tx.list('service'),
      tasks: tx.find('task', 'state', 'new'),
      nodes: tx.list('node').filter((n) => !n.removed && !n.ingressAddress),
    }));
    await this.allocateNetworks(state, networks);
    await this.allocateNodes(state, nodes);
    const ready = await this.allocateServices(state, services);
    await this.allocateTasks(state, tasks, ready);
  }

  private async allocateNetworks(state: AllocatorState, networks: Network[]): Promise<void> {
    const updates: Network[] = [];
    for (const n of networks) {
      const r = allocateNetwork(state, n);
      // A node-local network stays with vni 0 and no ipam (each node's own): held, nothing to write.
      if (r.ok && r.value.vni === 0) continue;
      if (r.ok) updates.push({ ...n, ipam: r.value.ipam, vni: r.value.vni });
      else this.log.warn({ network: n.spec.name, reason: r.reason.message }, 'network not allocated');
    }
    if (updates.length === 0) return;
    await this.deps.store.update((tx) => {
      for (const n of updates) tx.update('network', n);
    });
  }

  /** Every node's ingress sandbox address, once the ingress network has its subnet. */
  private async allocateNodes(state: AllocatorState, nodes: Node[]): Promise<void> {
    const updates: { id: string; addr: string }[] = [];
    for (const n of nodes) {
      const r = allocateNodeIngress(state, n);
      if (r.ok) updates.push({ id: n.id, addr: r.value });
      else if (r.reason.kind !== 'missing')
        this.log.warn({ node: n.id, reason: r.reason.message }, 'node ingress address not allocated');
    }
    if (updates.length === 0) return;
    // Nodes are written often (heartbeats, roles): re-read each in the transaction and only fill the field.
    const skipped: string[] = [];
    await this.deps.store.update((tx) => {
      skipped.length = 0;
      for (const u of updates) {
        const current = tx.get('node', u.id);
        if (current && !current.removed && !current.ingressAddress)
          tx.update('node', { ...current, ingressAddress: u.addr });
        else skipped.push(u.id);
      }
    });
    // Removed (or given an address by another pass) meanwhile: what this pass took goes back.
    for (const id of skipped) {
      const node = this.deps.store.view((tx) => tx.get('node', id));
      if (!node || node.removed || node.ingressAddress !== updates.find((u) => u.id === id)?.addr)
        releaseNodeIngress(state, id);
    }
  }

  /** Allocates services whose spec changed; returns the services whose endpoint is current, by id. */
  private async allocateServices(state: AllocatorState, services: Service[]): Promise<Map<string, Service>> {
    const ready = new Map<string, Service>();
    const updates: Service[] = [];
    for (const s of services) {
      if (this.allocatedSpec.get(s.id) === s.specVersion) {
        ready.set(s.id, s);
        continue;
      }
      const r = allocateService(state, s);
      if (!r.ok) {
        this.log.warn({ service: s.spec.name, reason: r.reason.message }, 'service endpoint not allocated');
        continue;
      }
      if (sameJson(r.value, s.endpoint)) {
        this.allocatedSpec.set(s.id, s.specVersion);
        ready.set(s.id, s);
      } else {
        updates.push({ ...s, endpoint: r.value });
      }
    }
    if (updates.length > 0) {
      const { value } = await this.deps.store.update((tx) => updates.map((s) => tx.update('service', s)));
      for (const s of value) {
        this.allocatedSpec.set(s.id, s.specVersion);
        ready.set(s.id, s);
      }
    }
    return ready;
  }

  private async allocateTasks(state: AllocatorState, tasks: Task[], services: Map<string, Service>) {
    const updates: Task[] = [];
    const now = new Date().toISOString();
    for (const t of tasks) {
      const retired = retiredBeforePlacement(t, now);
      if (retired) {
        updates.push(retired);
        continue;
      }
      if (t.attachment) {
        const a = this.attachment(state, t, now);
        if (a) updates.push(a);
        continue;
      }
      const service = services.get(t.serviceId);
      if (!service) continue; // its service's endpoint is not allocated yet
      const r = allocateTask(state, t, service);
      if (r.ok) {
        updates.push({
          ...t,
          networks: r.value,
          endpoint: structuredClone(service.endpoint),
          status: {
            ...t.status,
            state: 'pending',
            timestamp: now,
            message: 'pending task scheduling',
            err: '',
          },
        });
      } else if (t.status.err !== r.reason.message) {
        updates.push({ ...t, status: { ...t.status, err: r.reason.message } });
      }
    }
    for (const batch of chunks(updates, TASKS_PER_BATCH)) {
      await this.deps.store.update((tx) => {
        for (const t of batch) tx.update('task', t);
      });
    }
  }
}
