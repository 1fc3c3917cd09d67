// The control API's network, service and task calls, for the manager to merge into controlHandlers:
//   handlers = { ...controlHandlers(ctx), ...serviceHandlers({ ...ctx, allocation: () => allocator.state }) }
import { networkHandlers } from './networks.js';
import { serializer, type ServiceControlContext } from './service-context.js';
import { serviceCallHandlers } from './services.js';
import { taskHandlers } from './tasks.js';

export type { ServiceControlContext } from './service-context.js';

export function serviceHandlers(ctx: ServiceControlContext) {
  // One queue for network and service writes: a network removal checks the services that use it, a
  // service write the networks it names, so the two kinds must not interleave either.
  const serialize = serializer();
  return { ...networkHandlers(ctx, serialize), ...serviceCallHandlers(ctx, serialize), ...taskHandlers(ctx) };
}
