// `service create | ls | inspect | update | scale | rollback | rm`. The API writes only the service; the
// orchestrators make and retire its tasks, the allocator fills its endpoint. Every spec is validated
// here and checked against the allocator's state, so a bad or conflicting spec is one clear error and
// nothing is written.
import { generateServiceName } from './names.js';
import { isDeepStrictEqual } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';
import { checkServicePorts } from '../allocator/index.js';
import { rollbackPatch } from '../orchestrator/index.js';
import { matchesConstraints, parseConstraints } from '../scheduler/index.js';
import { newId } from '../../lib/ids.js';
import type { WriteTx } from '../store/index.js';
import {
  orchestrationLimits,
  type Node,
  type NewObject,
  type Service,
  type ServiceSpec,
  type SwarmObjects,
  type Task,
} from '../../api/objects/index.js';
import { serviceToWire } from './objects-to-wire.js';
import { findService } from './lookup-services.js';
import {
  committed,
  requireAllocatable,
  write,
  type ControlUnaryHandlers,
  type ServiceControlContext,
} from './service-context.js';
import { pinImage } from './image-pinning.js';
import { checkPortsFree, resolveNetworks, validateService } from './service-validation.js';
import { serviceSpecFromWire } from './specs-from-wire.js';
import { invalid, wholeNumber } from './wire-values.js';

type Serialize = <T>(fn: () => Promise<T>) => Promise<T>;

const modeName = (spec: ServiceSpec) => ('global' in spec.mode ? 'global' : 'replicated');

/** The checks every spec written passes, against the store and the allocator; returns it resolved. */
function admit(
  ctx: ServiceControlContext,
  tx: WriteTx<SwarmObjects>,
  id: string,
  spec: ServiceSpec,
): ServiceSpec {
  checkReplicasCap(tx, spec);
  const resolved = resolveNetworks(tx, spec);
  checkPortsFree(tx, id, resolved);
  requireAllocatable(checkServicePorts(ctx.allocation(), { id, spec: resolved }));
  return resolved;
}

/** `--replicas` above the swarm's cap is refused before anything is written. */
function checkReplicasCap(tx: WriteTx<SwarmObjects>, spec: ServiceSpec): void {
  if (!('replicated' in spec.mode)) return;
  const { maxReplicas } = orchestrationLimits(tx.list('cluster')[0]?.spec);
  const replicas = spec.mode.replicated.replicas;
  if (replicas > maxReplicas)
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `${replicas} replicas is more than this swarm allows per service (${maxReplicas}): ask for fewer, or create the swarm with a higher 'swarmlite init --max-replicas'`,
    );
}

function currentAt(tx: WriteTx<SwarmObjects>, id: string, version: number): Service {
  const current = tx.get('service', id);
  if (!current) throw new GrpcError(grpc.status.NOT_FOUND, `service ${id} not found`);
  if (version && version !== current.meta.version) {
    throw new GrpcError(
      grpc.status.ABORTED,
      `service ${current.spec.name} changed since version ${version}: read it again`,
    );
  }
  return current;
}

/** Nodes a global service runs on: ready, active, matching its constraints (as the global orchestrator). */
function globalTargets(service: Service, nodes: readonly Node[]): number {
  const constraints = parseConstraints(service.spec.task.placement.constraints);
  if (!Array.isArray(constraints)) return 0;
  return nodes.filter(
    (n) =>
      !n.removed &&
      n.status.state === 'ready' &&
      n.spec.availability === 'active' &&
      matchesConstraints(n, constraints),
  ).length;
}

function listEntry(service: Service, tasks: readonly Task[], nodes: readonly Node[]) {
  const running = tasks.filter((t) => t.status.state === 'running' && t.desiredState === 'running').length;
  const desired =
    'global' in service.spec.mode ? globalTargets(service, nodes) : service.spec.mode.replicated.replicas;
  return { service: serviceToWire(service), running, desired };
}

export function serviceCallHandlers(ctx: ServiceControlContext, serialize: Serialize) {
  const now = ctx.now ?? Date.now;
  return {
    async CreateService(req) {
      const wanted = serviceSpecFromWire(req.spec);
      // No --name: Docker makes one up (an adjective and a scientist).
      const spec = wanted.name
        ? wanted
        : {
            ...wanted,
            name: generateServiceName((n) =>
              ctx.store.view((tx) => tx.find('service', 'name', n).length > 0),
            ),
          };
      validateService(spec);
      // Asked before the write lock is taken: a registry may take seconds to answer, or never.
      const pinned = await pinImage(spec, req.resolveImage, ctx.resolveImage);
      const id = (ctx.newId ?? newId)();
      return serialize(async () => {
        const created = await write(ctx.store, (tx) => {
          const taken = tx.find('service', 'name', spec.name)[0];
          if (taken)
            throw new GrpcError(grpc.status.ALREADY_EXISTS, `service ${taken.spec.name} already exists`);
          const service: NewObject<Service> = {
            id,
            spec: admit(ctx, tx, id, pinned.spec),
            specVersion: 1,
            endpoint: { ports: [], virtualIps: [] },
          };
          return tx.create('service', service);
        });
        return {
          service: serviceToWire(committed(ctx.store, 'service', created.id)),
          warnings: pinned.warnings,
        };
      });
    },

    async GetService(req) {
      return { service: serviceToWire(ctx.store.view((tx) => findService(tx, req.ref))) };
    },

    async ListServices() {
      const entries = ctx.store.view((tx) => {
        const nodes = tx.list('node');
        return tx
          .list('service')
          .sort((a, b) => a.spec.name.localeCompare(b.spec.name))
          .map((s) => listEntry(s, tx.find('task', 'service', s.id), nodes));
      });
      return { services: entries };
    },

    async UpdateService(req) {
      if (!req.spec) throw invalid('UpdateService needs the complete new spec');
      const sent = serviceSpecFromWire(req.spec);
      validateService(sent);
      const { ref, force } = req;
      const version = wholeNumber(req.version, 'version');
      // Reads never show the registry credentials, so a spec read and sent back has none: the
      // service keeps its own unless new ones come (as Docker's update does).
      const kept = ctx.store.view((tx) => findService(tx, ref)).spec.task.registryAuth;
      const withAuth =
        sent.task.registryAuth || !kept ? sent : { ...sent, task: { ...sent.task, registryAuth: kept } };
      const pinned = await pinImage(withAuth, req.resolveImage, ctx.resolveImage);
      return serialize(async () => {
        const updated = await write(ctx.store, (tx) => {
          const current = currentAt(tx, findService(tx, ref).id, version);
          // The credentials the service has now, should another update have changed them meanwhile.
          const auth = sent.task.registryAuth ?? current.spec.task.registryAuth;
          const { registryAuth: _old, ...task } = pinned.spec.task;
          const spec: ServiceSpec = { ...pinned.spec, task: auth ? { ...task, registryAuth: auth } : task };
          if (spec.name !== current.spec.name) {
            throw invalid(`service ${current.spec.name} cannot be renamed (to ${spec.name})`);
          }
          if (modeName(spec) !== modeName(current.spec)) {
            throw invalid(
              `service ${current.spec.name} is ${modeName(current.spec)}: its mode cannot change to ${modeName(spec)}`,
            );
          }
          const admitted = admit(ctx, tx, current.id, spec);
          const changed = !isDeepStrictEqual(admitted, current.spec);
          if (!changed && !force) return current;
          // --force outdates every task: the counter is part of the task spec the orchestrator compares.
          const next = force
            ? {
                ...admitted,
                task: {
                  ...admitted.task,
                  forceUpdate: Math.max(admitted.task.forceUpdate, current.spec.task.forceUpdate) + 1,
                },
              }
            : admitted;
          // SwarmKit clears the update status on every update: the orchestrator starts a fresh
          // 'updating' from the outdated slots (so a paused update resumes, a running one restarts its
          // failure count), and a change that outdates no task (a scale) leaves no status at all.
          const { updateStatus: _cleared, ...rest } = current;
          return tx.update('service', {
            ...rest,
            spec: next,
            // A forced redeploy of the same spec keeps the real previous spec for `service rollback`.
            previousSpec: changed ? current.spec : current.previousSpec,
            specVersion: current.specVersion + 1,
          } as Service);
        });
        return {
          service: serviceToWire(committed(ctx.store, 'service', updated.id)),
          warnings: pinned.warnings,
        };
      });
    },

    async RollbackService({ ref }) {
      return serialize(async () => {
        const rolledBack = await write(ctx.store, (tx) => {
          const current = findService(tx, ref);
          const patch = rollbackPatch(current, now(), 'manually requested rollback');
          if (!patch) {
            throw new GrpcError(
              grpc.status.FAILED_PRECONDITION,
              `service ${current.spec.name} has no previous spec to roll back to`,
            );
          }
          // The previous spec passed these checks when it was written, but its networks may have been
          // removed and its ports taken since.
          for (const n of patch.spec.task.networks) {
            if (!tx.get('network', n.target)) {
              throw new GrpcError(
                grpc.status.FAILED_PRECONDITION,
                `cannot roll back service ${current.spec.name}: network ${n.target} of its previous spec was removed`,
              );
            }
          }
          admit(ctx, tx, current.id, patch.spec);
          return tx.update('service', { ...current, ...patch });
        });
        return { service: serviceToWire(committed(ctx.store, 'service', rolledBack.id)) };
      });
    },

    async RemoveService({ ref }) {
      // Only the service goes: the orchestrator's reaper (reapOrphans) shuts its tasks down and deletes
      // them, since only it knows which workers can still report.
      return serialize(async () => {
        await write(ctx.store, (tx) => tx.delete('service', findService(tx, ref)));
        return {};
      });
    },
  } satisfies Partial<ControlUnaryHandlers>;
}
