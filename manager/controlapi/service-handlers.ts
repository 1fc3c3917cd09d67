// The control API's network, service and task calls, for the manager to merge into controlHandlers:
//   handlers = { ...controlHandlers(ctx), ...serviceHandlers({ ...ctx, allocation: () => allocator.state }) }
import { Mutex } from '../../lib/mutex.js';
import { networkHandlers } from './networks.js';
import { type Handler, type ServiceControlContext } from './service-context.js';
import { serviceCallHandlers } from './services.js';
import { taskHandlers } from './tasks.js';

export type { ServiceControlContext } from './service-context.js';

export function serviceHandlers(ctx: ServiceControlContext): Record<string, Handler> {
  // One write at a time on this leader. The handlers check names, ports and subnets against the store
  // inside their transaction; serialized, each check sees every earlier call's committed result, so two
  // concurrent creates cannot both pass a check that each alone would pass. One queue for network and
  // service writes: a network removal checks the services that use it, a service write the networks it
  // names, so the two kinds must not interleave either.
  const writes = new Mutex();
  const serialize = <T>(fn: () => Promise<T>): Promise<T> => writes.run(fn);
  return { ...networkHandlers(ctx, serialize), ...serviceCallHandlers(ctx, serialize), ...taskHandlers(ctx) };
}
