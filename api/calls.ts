// Promise-returning unary calls over a generated client: `calls.listNodes({})` is typed by the
// generated ControlClient (request in, decoded response out), with a deadline per call. Streaming
// methods stay on the client itself (`client.serviceLogs(req)`), already typed by the generator.
import type * as grpc from '@grpc/grpc-js';

/**
 * A generated unary method's request and response types. Inference reads an overloaded method's last
 * form, which the generator makes `(argument, callback)` for unary methods; streaming methods end in
 * `(argument, options?)`, `(options?)` or `(callback)` and give `never`.
 */
type Unary<M> = M extends (argument: infer Req, callback: infer Callback) => grpc.ClientUnaryCall
  ? Callback extends grpc.requestCallback<infer Res>
    ? { request: Req; response: Res }
    : never
  : never;

/** The client's unary methods under their camelCase names (the generator emits both spellings). */
type UnaryName<C> = {
  [K in keyof C]: K extends string
    ? K extends Uncapitalize<K>
      ? [Unary<C[K]>] extends [never]
        ? never
        : K
      : never
    : never;
}[keyof C];

export type UnaryCalls<C> = {
  readonly [K in UnaryName<C>]: (
    request: Unary<C[K]>['request'],
    timeoutMs?: number,
  ) => Promise<Unary<C[K]>['response']>;
};

export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/**
 * Wraps `client`'s unary methods, as declared by `service` (the definition its constructor was made
 * from), into promises with a deadline.
 */
export function unaryCalls<C extends grpc.Client>(client: C, service: grpc.ServiceDefinition): UnaryCalls<C> {
  const calls: Record<string, (request: unknown, timeoutMs?: number) => Promise<unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    if (method.requestStream || method.responseStream) continue;
    calls[method.originalName ?? name] = (request, timeoutMs = DEFAULT_CALL_TIMEOUT_MS) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          { deadline: Date.now() + timeoutMs },
          (err, res) => (err ? reject(err) : resolve(res)),
        );
      });
  }
  return calls as UnaryCalls<C>;
}
