// Loading the .proto wire contracts at run time (grpc-js + proto-loader): no generated code to keep
// in step, and the same definitions serve the daemon, the CLI and the tests.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { protoDir } from './repo.js';

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

const cache = new Map<string, grpc.GrpcObject>();

/** Loads proto/<file> and returns its package object. */
function loadProto(file: string): grpc.GrpcObject {
  let pkg = cache.get(file);
  if (!pkg) {
    const definition = protoLoader.loadSync(join(protoDir(), file), {
      ...LOADER_OPTIONS,
      includeDirs: [protoDir()],
    });
    pkg = grpc.loadPackageDefinition(definition);
    cache.set(file, pkg);
  }
  return pkg;
}

/** Looks up a service constructor by its dotted name, e.g. 'swarmlite.local.v1.LocalApi'. */
export function serviceClient(file: string, dottedName: string): grpc.ServiceClientConstructor {
  let node: unknown = loadProto(file);
  for (const part of dottedName.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function') throw new Error(`no gRPC service ${dottedName} in proto/${file}`);
  return node as grpc.ServiceClientConstructor;
}

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
