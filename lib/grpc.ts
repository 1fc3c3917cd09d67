// A unary call by method name, as a promise with a deadline: what remains of the untyped client, for
// the last manager test still calling this way. Everything else, the CLI, the lab, the e2e tests and the
// benchmarks included, uses api/calls.ts's typed calls on the generated clients (see api/README.md).
import type * as grpc from '@grpc/grpc-js';

/** Turns a callback-style unary client method into a promise with a deadline. */
export function unary<Req, Res>(
  client: grpc.Client,
  method: string,
  request: Req,
  timeoutMs = 10_000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (...a: unknown[]) => void>)[method];
    if (typeof fn !== 'function') return reject(new Error(`no RPC method ${method}`));
    fn.call(
      client,
      request,
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)),
    );
  });
}
