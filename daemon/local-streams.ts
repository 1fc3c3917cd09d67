// The local API's streaming calls: `service logs` and `exec`. The CLI's stream is tied to the manager
// side (routed to the leader by SwarmNode); when the CLI goes away, so does the work on the node.
import type * as grpc from '@grpc/grpc-js';
import type { ExecRequest, LogsRequest, Sink } from '../manager/controlapi/streams.js';
import type { ExecInput } from '../manager/dispatcher/node-work.js';
import { toStatus, type LocalApiStreams } from './local-api.js';
import type { SwarmNode } from './swarm.js';

function sinkOf<T>(
  call: grpc.ServerWritableStream<unknown, T> | grpc.ServerDuplexStream<unknown, T>,
): Sink<T> {
  return {
    write: (m) => call.write(m),
    end: () => call.end(),
    fail: (err) => call.emit('error', toStatus(err)),
  };
}

export function localStreams(node: SwarmNode): LocalApiStreams {
  return {
    ServiceLogs: (raw) => {
      const call = raw as unknown as grpc.ServerWritableStream<LogsRequest, unknown>;
      try {
        const cancel = node.serviceLogs(call.request, sinkOf(call));
        call.on('cancelled', cancel);
      } catch (err) {
        call.emit('error', toStatus(err));
      }
    },
    Exec: (raw) => {
      const call = raw as unknown as grpc.ServerDuplexStream<
        ExecRequest & { input?: ExecInput | null },
        unknown
      >;
      let session: { input(i: ExecInput): void; cancel(): void } | undefined;
      call.on('cancelled', () => session?.cancel());
      call.on('data', (msg) => {
        try {
          if (!session) session = node.exec(msg, sinkOf(call));
          else if (msg.input) session.input(msg.input);
        } catch (err) {
          call.emit('error', toStatus(err));
        }
      });
    },
  };
}
