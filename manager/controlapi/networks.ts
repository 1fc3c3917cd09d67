// `network create | ls | inspect | rm | prune`: overlay networks in the store. The API creates a
// network with empty `ipam` and `vni` 0; the leader's allocator controller fills them. Creation is
// refused up front when the allocator could not allocate it (overlap, exhausted pool), so a network
// never sits unallocated because of the user's input.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';
import { checkNetwork } from '../allocator/index.js';
import { newId } from '../../lib/ids.js';
import type { ReadTx } from '../store/index.js';
import {
  isEncryptedNetwork,
  type Network,
  type NewObject,
  type SwarmObjects,
} from '../../api/objects/index.js';
import { encryptionRefusal, OVERLAY_ENCRYPTION_DATAPATH, probeEsp } from '../../lib/esp.js';
import { networkToWire } from './objects-to-wire.js';
import { containersOn, findNetwork, networksInUse, servicesUsing, tasksOn } from './lookup-services.js';
import {
  committed,
  requireAllocatable,
  write,
  type ControlUnaryHandlers,
  type ServiceControlContext,
} from './service-context.js';
import { checkSubnetsFree, validateNetwork } from './service-validation.js';
import { networkSpecFromWire } from './specs-from-wire.js';

const defaultEncryptionRefusal = async () => encryptionRefusal(await probeEsp(), OVERLAY_ENCRYPTION_DATAPATH);

type Serialize = <T>(fn: () => Promise<T>) => Promise<T>;

/** Why the network cannot go, or undefined: services naming it, else tasks still attached to it. */
function inUse(tx: ReadTx<SwarmObjects>, network: Network): string | undefined {
  const plural = (n: number) => (n > 1 ? 's' : '');
  const services = servicesUsing(tx, network.id);
  if (services.length > 0) {
    return `network ${network.spec.name} is in use by service${plural(services.length)} ${services.join(', ')}`;
  }
  const containers = containersOn(tx, network.id);
  if (containers.length > 0) {
    return `network ${network.spec.name} is in use by container${plural(containers.length)} ${containers.join(', ')}: remove them on their nodes first`;
  }
  const tasks = tasksOn(tx, network.id);
  if (tasks.length > 0) {
    const shown = tasks.slice(0, 5).join(', ') + (tasks.length > 5 ? ', ...' : '');
    return `network ${network.spec.name} is in use by task${plural(tasks.length)} ${shown} (stopping; retry once they are gone)`;
  }
  return undefined;
}

export function networkHandlers(ctx: ServiceControlContext, serialize: Serialize) {
  return {
    async CreateNetwork(req) {
      const spec = networkSpecFromWire(req.spec);
      validateNetwork(spec);
      if (isEncryptedNetwork(spec)) {
        const refusal = await (ctx.encryptionRefusal ?? defaultEncryptionRefusal)();
        if (refusal)
          throw new GrpcError(
            grpc.status.FAILED_PRECONDITION,
            `network ${spec.name} cannot be encrypted: ${refusal}; create it without --opt encrypted`,
          );
      }
      const network: NewObject<Network> = { id: (ctx.newId ?? newId)(), spec, ipam: [], vni: 0 };
      return serialize(async () => {
        const created = await write(ctx.store, (tx) => {
          const taken = tx.find('network', 'name', spec.name)[0];
          if (taken)
            throw new GrpcError(grpc.status.ALREADY_EXISTS, `network ${taken.spec.name} already exists`);
          checkSubnetsFree(tx, spec);
          requireAllocatable(checkNetwork(ctx.allocation(), network));
          return tx.create('network', network);
        });
        return { network: networkToWire(committed(ctx.store, 'network', created.id)) };
      });
    },

    async GetNetwork(req) {
      return { network: networkToWire(ctx.store.view((tx) => findNetwork(tx, req.ref))) };
    },

    async ListNetworks() {
      const networks = ctx.store.view((tx) => tx.list('network'));
      return { networks: networks.sort((a, b) => a.spec.name.localeCompare(b.spec.name)).map(networkToWire) };
    },

    async RemoveNetwork({ ref }) {
      return serialize(async () => {
        await write(ctx.store, (tx) => {
          const network = findNetwork(tx, ref);
          if (network.spec.ingress) {
            throw new GrpcError(
              grpc.status.FAILED_PRECONDITION,
              `network ${network.spec.name} is the swarm's ingress network (the routing mesh): it cannot be removed`,
            );
          }
          const why = inUse(tx, network);
          if (why) throw new GrpcError(grpc.status.FAILED_PRECONDITION, why);
          tx.delete('network', network);
        });
        return {};
      });
    },

    async PruneNetworks() {
      return serialize(async () => {
        const removed = await write(ctx.store, (tx) => {
          const names: string[] = [];
          const used = networksInUse(tx);
          for (const network of tx.list('network')) {
            if (network.spec.ingress || used.has(network.id)) continue;
            tx.delete('network', network);
            names.push(network.spec.name);
          }
          return names.sort();
        });
        return { removed };
      });
    },
  } satisfies Partial<ControlUnaryHandlers>;
}
