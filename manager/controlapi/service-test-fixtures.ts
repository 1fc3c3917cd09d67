// Shared by the network/service/task handler tests: a store over the in-memory log with the ingress
// network, an allocator state built from the store (as a caught-up allocator controller would hold it),
// calls that reach the handlers as a remote client's would (encoded and decoded by proto/control.proto's
// own serializers), and assertions on gRPC errors that leave the store untouched.
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { services, type ControlDefinition } from '../../api/rpc.js';
import type { ServiceSpec as WireServiceSpecIn } from '../../api/gen/swarmlite/objects/v1/ServiceSpec.js';
import {
  allocateNetwork,
  allocateService,
  allocatorStateFrom,
  type AllocatorState,
} from '../allocator/index.js';
import { ingressNetwork } from '../allocator/ingress.js';
import { newTask } from '../orchestrator/index.js';
import { newTestStore, sampleNode } from '../store/test-fixtures.js';
import type { Store } from '../store/index.js';
import type { Network, NewObject, Node, Service, SwarmObjects, TaskState } from '../../api/objects/index.js';
import type { Caller } from './control.js';
import { serviceHandlers } from './service-handlers.js';
import type { ControlUnaryHandlers, ImageResolver, ServiceControlContext } from './service-context.js';

/** The network, service and task calls the manager merges into the control API. */
export type ServiceMethod = keyof ReturnType<typeof serviceHandlers>;

/** A request to `method` as a client writes it (the generated request type, every field optional). */
export type RequestOf<M extends ServiceMethod> =
  ControlDefinition[M] extends MethodDefinition<infer Req, infer _Res, infer _ReqOut, infer _ResOut>
    ? Req
    : never;

/** A request to `method` as the server decodes it (every scalar present, absent messages null). */
export type ReceivedOf<M extends ServiceMethod> = Parameters<ControlUnaryHandlers[M]>[0];

export const caller: Caller = { nodeId: 'manager-1', role: 'manager' };
export const FIXED_NOW = Date.UTC(2026, 10, 22, 6, 0, 0);

/**
 * The allocator state a caught-up controller holds: every network and service in the store allocated.
 * Networks the API just made (vni 0) and services get allocated here, lowest-free, as the controller would.
 */
export function allocatedState(store: Store<SwarmObjects>): AllocatorState {
  return store.view((tx) => {
    const networks = tx.list('network');
    const { state } = allocatorStateFrom({ networks, services: [], tasks: [] });
    for (const n of networks
      .filter((n) => n.vni === 0)
      .sort((a, b) => Number(b.spec.ingress) - Number(a.spec.ingress))) {
      allocateNetwork(state, n);
    }
    for (const s of tx.list('service')) allocateService(state, s);
    return state;
  });
}

export interface Fixture {
  store: Store<SwarmObjects>;
  ctx: ServiceControlContext;
  // Replies are wire objects the tests walk freely; their shape is what the assertions check.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call: <M extends ServiceMethod>(method: M, req: RequestOf<M>) => Promise<any>;
  /** The handler of `method` run on a request as the server decoded it. */
  handle: <M extends ServiceMethod>(method: M, received: ReceivedOf<M>) => Promise<unknown>;
  ingressId: string;
}

/**
 * `allocation` chooses what the handlers see as the allocator's state: by default the caught-up one;
 * 'stale' gives the state of the ingress network alone, to show the checks made against the store.
 */
export async function fixture(
  opts: { allocation?: 'caught-up' | 'stale'; nodes?: NewObject<Node>[]; resolveImage?: ImageResolver } = {},
): Promise<Fixture> {
  const { store } = newTestStore();
  let ids = 0;
  const ingress: NewObject<Network> = ingressNetwork('ingress0000000000000000000');
  await store.update((tx) => {
    tx.create('network', ingress);
    for (const n of opts.nodes ?? [sampleNode('node-a'), sampleNode('node-b')]) tx.create('node', n);
  });
  const staleState = allocatedState(store);
  const ctx: ServiceControlContext = {
    store,
    allocation: () => (opts.allocation === 'stale' ? staleState : allocatedState(store)),
    now: () => FIXED_NOW,
    // Distinct from the first 4 characters on, so a 4-character prefix is unique and 'x' is not.
    newId: () => `${(++ids).toString(36).padStart(4, '0')}${'x'.repeat(21)}`,
    ...(opts.resolveImage ? { resolveImage: opts.resolveImage } : {}),
  };
  const handlers: Pick<ControlUnaryHandlers, ServiceMethod> = serviceHandlers(ctx);
  const byName = handlers as Record<ServiceMethod, (req: unknown, caller: Caller) => Promise<unknown>>;
  const handle = <M extends ServiceMethod>(method: M, received: ReceivedOf<M>) =>
    byName[method](received, caller);
  // The handler runs on what the server decodes from what the client encodes: defaults filled in,
  // values coerced to their field types as the client's encoder does.
  const call = async <M extends ServiceMethod>(method: M, req: RequestOf<M>) => {
    const def = control[method]!;
    return handle(method, def.requestDeserialize(def.requestSerialize(req)));
  };
  return { store, ctx, call, handle, ingressId: ingress.id };
}

// Untyped on purpose: the encoder takes whatever a JavaScript client passes, as grpc-js's does.
const control: grpc.ServiceDefinition = services.control().service;

/** The call fails with `code` and a message matching `message`, and the store is exactly as before. */
export async function assertRefused<M extends ServiceMethod>(
  f: Fixture,
  method: M,
  req: RequestOf<M>,
  code: number,
  message: RegExp,
): Promise<void> {
  const before = Buffer.from(f.store.snapshot()).toString();
  await assert.rejects(f.call(method, req), (err: { code?: number; message: string; name: string }) => {
    assert.equal(err.name, 'GrpcError', `${method}: ${err.message}`);
    assert.equal(err.code, code, `${method}: code for "${err.message}"`);
    assert.match(err.message, message);
    return true;
  });
  assert.equal(Buffer.from(f.store.snapshot()).toString(), before, `${method} changed the store`);
}

/**
 * A request of the wrong shape (a string for a message, a message for a list, ...) never reaches a
 * handler: the client's encoder refuses it with a TypeError naming the field.
 * (The generated request types refuse it at compile time; `req` is what a JavaScript client could pass.)
 */
export function assertUnsendable(method: ServiceMethod, req: Record<string, unknown>, message: RegExp): void {
  assert.throws(
    () => control[method]!.requestSerialize(req),
    (err: Error) => {
      assert.ok(err instanceof TypeError, `${method}: ${String(err)}`);
      assert.match(err.message, message);
      return true;
    },
  );
}

/** A minimal wire ServiceSpec: what the CLI sends for `service create --name NAME IMAGE`, plus `extra`. */
export function wireSpec(name: string, extra: WireServiceSpecIn = {}): WireServiceSpecIn {
  return { name, task: { image: 'host' }, ...extra };
}

/** Adds a task of `service` to the store, as the orchestrator and scheduler would have. */
export async function addTask(
  store: Store<SwarmObjects>,
  service: Service,
  id: string,
  o: { slot: number; nodeId?: string; state?: TaskState; desired?: TaskState },
): Promise<void> {
  await store.update((tx) => {
    const task = newTask(service, id, {
      slot: o.slot,
      nodeId: o.nodeId ?? '',
      desiredState: o.desired ?? 'running',
      message: '',
      now: FIXED_NOW,
    });
    tx.create('task', { ...task, status: { ...task.status, state: o.state ?? 'running' } });
  });
}
