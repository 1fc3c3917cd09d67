// Typed unary calls on both ends of a generated service. A client's unary methods become promises with
// a deadline (`calls.listNodes({})`); a server's unary handlers are written as promise functions of the
// decoded request (`ListNodes: async (req) => ...`, the request typed as the server decodes it) and
// adapted to grpc-js. Streaming methods stay as the generator typed them: `client.serviceLogs(req)`
// and `handleServerStreamingCall` handlers.
import type * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';

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
export type UnaryName<C> = {
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
 * from), into promises. Each call's deadline is its `timeoutMs`, else `defaults.deadline` (one deadline
 * for a sequence of calls), else DEFAULT_CALL_TIMEOUT_MS from now.
 */
export function unaryCalls<C extends grpc.Client>(
  client: C,
  service: grpc.ServiceDefinition,
  defaults: { deadline?: number } = {},
): UnaryCalls<C> {
  const calls: Record<string, (request: unknown, timeoutMs?: number) => Promise<unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    if (method.requestStream || method.responseStream) continue;
    calls[method.originalName ?? name] = (request, timeoutMs) =>
      new Promise((resolve, reject) => {
        const deadline =
          timeoutMs !== undefined
            ? Date.now() + timeoutMs
            : (defaults.deadline ?? Date.now() + DEFAULT_CALL_TIMEOUT_MS);
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          { deadline },
          (err, res) => (err ? reject(err) : resolve(res)),
        );
      });
  }
  return calls as UnaryCalls<C>;
}

type Method<D, K> = K extends keyof D
  ? D[K] extends MethodDefinition<infer _ReqIn, infer ResIn, infer ReqOut, infer _ResOut>
    ? { request: ReqOut; response: ResIn }
    : never
  : never;

/**
 * A service's unary handlers as promise functions (C: the generated client, D: its definition): each
 * takes the request as the server decodes it and resolves to a response the encoder accepts. An object
 * of this type lacking a handler for a declared unary RPC does not compile.
 */
export type UnaryHandlers<C, D, Ctx extends unknown[] = []> = {
  [K in UnaryName<C> as Capitalize<K>]: (
    request: Method<D, Capitalize<K>>['request'],
    ...ctx: Ctx
  ) => Promise<Method<D, Capitalize<K>>['response']>;
};

/** The same calls under their camelCase names, as a client makes them (for in-process shortcuts). */
export type UnaryService<C, D> = {
  [K in UnaryName<C>]: (
    request: Method<D, Capitalize<K>>['request'],
  ) => Promise<Method<D, Capitalize<K>>['response'] | Unary<C[K]>['response']>;
};

type Handler<Ctx extends unknown[]> = (request: unknown, ...ctx: Ctx) => Promise<unknown>;

/**
 * grpc-js handlers (S: the generated handler interface) for the promise handlers of `handlers`:
 * `serve` adapts one (checks the caller, runs it, maps its errors) the same way for every RPC.
 */
export function serveUnary<S, H extends object, Ctx extends unknown[] = []>(
  handlers: H,
  serve: (name: string, handler: Handler<Ctx>) => grpc.handleUnaryCall<unknown, unknown>,
): Pick<S, keyof H & keyof S> {
  const out: Record<string, grpc.handleUnaryCall<unknown, unknown>> = {};
  for (const [name, handler] of Object.entries(handlers)) out[name] = serve(name, handler as Handler<Ctx>);
  return out as Pick<S, keyof H & keyof S>;
}

/**
 * In-process calls on a server's own handlers, shaped as a client's (`calls.listNodes(req)`): what the
 * local API uses on the leader to skip a network hop. `ctx` is passed to every handler (the caller).
 */
export function localCalls<C, D, Ctx extends unknown[]>(
  handlers: UnaryHandlers<C, D, Ctx>,
  service: grpc.ServiceDefinition,
  ...ctx: Ctx
): UnaryService<C, D> {
  const byName = handlers as Record<string, Handler<Ctx>>;
  const calls: Record<string, (request: unknown) => Promise<unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    const handler = byName[name];
    if (method.requestStream || method.responseStream || !handler) continue;
    calls[method.originalName ?? name] = (request) => handler(request, ...ctx);
  }
  return calls as UnaryService<C, D>;
}
