// `network create | ls | inspect | rm | prune`: overlay networks in the store. The API creates a
// network with empty `ipam` and `vni` 0; the leader's allocator controller fills them. Creation is
// refused up front when the allocator could not allocate it (overlap, exhausted pool), so a network
// never sits unallocated because of the user's input.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';
import { checkNetwork } from '../allocator/index.js';
import { newId } from '../../lib/ids.js';
import type { Network, NewObject } from '../store/index.js';
import { networkToWire } from './convert-services.js';
import { findNetwork, servicesUsing } from './lookup-services.js';
import {
  committed,
  requireAllocatable,
  write,
  type Handler,
  type ServiceControlContext,
} from './service-context.js';
import { checkSubnetsFree, validateNetwork } from './service-validation.js';
import { networkSpecFromWire } from './wire-specs.js';

type Serialize = <T>(fn: () => Promise<T>) => Promise<T>;

function inUseMessage(network: Network, services: string[]): string {
  const list = services.join(', ');
  return `network ${network.spec.name} is in use by service${services.length > 1 ? 's' : ''} ${list}`;
}

export function networkHandlers(ctx: ServiceControlContext, serialize: Serialize): Record<string, Handler> {
  return {
    async CreateNetwork(req) {
      const spec = networkSpecFromWire(req.spec);
      validateNetwork(spec);
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
      return { network: networkToWire(ctx.store.view((tx) => findNetwork(tx, String(req.ref ?? '')))) };
    },

    async ListNetworks() {
      const networks = ctx.store.view((tx) => tx.list('network'));
      return { networks: networks.sort((a, b) => a.spec.name.localeCompare(b.spec.name)).map(networkToWire) };
    },

    async RemoveNetwork(req) {
      const ref = String(req.ref ?? '');
      return serialize(async () => {
        await write(ctx.store, (tx) => {
          const network = findNetwork(tx, ref);
          if (network.spec.ingress) {
            throw new GrpcError(
              grpc.status.FAILED_PRECONDITION,
              `network ${network.spec.name} is the swarm's ingress network (the routing mesh): it cannot be removed`,
            );
          }
          const users = servicesUsing(tx, network.id);
          if (users.length > 0)
            throw new GrpcError(grpc.status.FAILED_PRECONDITION, inUseMessage(network, users));
          tx.delete('network', network);
        });
        return {};
      });
    },

    async PruneNetworks() {
      return serialize(async () => {
        const removed = await write(ctx.store, (tx) => {
          const names: string[] = [];
          for (const network of tx.list('network')) {
            if (network.spec.ingress || servicesUsing(tx, network.id).length > 0) continue;
            tx.delete('network', network);
            names.push(network.spec.name);
          }
          return names.sort();
        });
        return { removed };
      });
    },
  };
}
