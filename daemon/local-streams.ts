// The local API's streaming calls: `service logs` and `exec`. The CLI's stream is tied to the manager
// side (routed to the leader by SwarmNode); when the CLI goes away, so does the work on the node.
import { serveExecCall } from '../manager/index.js';
import { toStatus, type LocalApiStreams } from './local-api.js';
import type { SwarmNode } from './swarm.js';

export function localStreams(node: SwarmNode): Pick<LocalApiStreams, 'ServiceLogs' | 'Exec'> {
  return {
    ServiceLogs: (call) => {
      try {
        const cancel = node.serviceLogs(call.request, {
          write: (m) => call.write(m),
          end: () => call.end(),
          fail: (err) => call.emit('error', toStatus(err)),
        });
        call.on('cancelled', cancel);
      } catch (err) {
        call.emit('error', toStatus(err));
      }
    },
    Exec: (call) => serveExecCall(call, (req, sink) => node.exec(req, sink), toStatus),
  };
}
