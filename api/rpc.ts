// The typed wire API: proto/ loaded at run time by @grpc/proto-loader with the options of
// proto/loader-options.json, typed by what api/generate.js generated from the same files with the same
// options (api/gen/). Callers get service constructors (typed clients), service definitions (for
// `server.addService` with a typed handler map) and promise-returning unary calls.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { protoDir } from '../lib/repo.js';
import type { ProtoGrpcType as CaProto } from './gen/ca.js';
import type { ProtoGrpcType as ControlProto } from './gen/control.js';
import type { ProtoGrpcType as DispatcherProto } from './gen/dispatcher.js';
import type { ProtoGrpcType as LocalProto } from './gen/local.js';
import type { ProtoGrpcType as RaftProto } from './gen/raft.js';
import type { UnaryService } from './calls.js';
import type { ControlClient, ControlDefinition } from './gen/swarmlite/control/v1/Control.js';

interface LoaderOptionsFile {
  keepCase: boolean;
  longs: 'String' | 'Number';
  enums: 'String' | 'Number';
  defaults?: boolean;
  arrays?: boolean;
  objects?: boolean;
  oneofs?: boolean;
}

/**
 * proto-loader's options for `file` of the folder `dir` (proto/ unless named): its own entry in the
 * folder's loader-options.json, else the default.
 */
export function loaderOptions(file: string, dir = protoDir()): protoLoader.Options {
  const all = JSON.parse(readFileSync(join(dir, 'loader-options.json'), 'utf8')) as Record<
    string,
    LoaderOptionsFile
  >;
  const o = all[file] ?? all.default;
  if (!o) throw new Error(`${join(dir, 'loader-options.json')} has no default entry`);
  return {
    keepCase: o.keepCase,
    longs: o.longs === 'String' ? String : Number,
    enums: o.enums === 'String' ? String : Number,
    defaults: o.defaults ?? false,
    arrays: o.arrays ?? false,
    objects: o.objects ?? false,
    oneofs: o.oneofs ?? false,
    includeDirs: [dir],
  };
}

const loaded = new Map<string, grpc.GrpcObject>();

/**
 * The one place where run-time loading meets the generated types. `T` is the generator's
 * ProtoGrpcType for `file` of `dir` (a folder api/generate.js generates from): it read the same .proto
 * files with the same options, so the loaded package object has exactly that shape (a type tsc cannot
 * derive from a file read at run time).
 */
export function loadProto<T extends object>(file: string, dir = protoDir()): T {
  const path = join(dir, file);
  let pkg = loaded.get(path);
  if (!pkg) {
    pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path, loaderOptions(file, dir)));
    loaded.set(path, pkg);
  }
  return pkg as T;
}

const local = () => loadProto<LocalProto>('local.proto').swarmlite.local.v1;
const control = () => loadProto<ControlProto>('control.proto').swarmlite.control.v1;
const dispatcher = () => loadProto<DispatcherProto>('dispatcher.proto').swarmlite.dispatcher.v1;
const ca = () => loadProto<CaProto>('ca.proto').swarmlite.ca.v1;
const raft = () => loadProto<RaftProto>('raft.proto').swarmlite.raft;

/** Service constructors: `new (services.control())(addr, credentials)` is a typed ControlClient. */
export const services = {
  local: () => local().LocalApi,
  control: () => control().Control,
  dispatcher: () => dispatcher().Dispatcher,
  ca: () => ca().Ca,
  raft: () => raft().Raft,
};

export type { CaClient, CaDefinition, CaHandlers } from './gen/swarmlite/ca/v1/Ca.js';
export type {
  ControlClient,
  ControlDefinition,
  ControlHandlers,
} from './gen/swarmlite/control/v1/Control.js';
export type {
  DispatcherClient,
  DispatcherDefinition,
  DispatcherHandlers,
} from './gen/swarmlite/dispatcher/v1/Dispatcher.js';
export type {
  LocalApiClient,
  LocalApiDefinition,
  LocalApiHandlers,
} from './gen/swarmlite/local/v1/LocalApi.js';
export type { RaftClient, RaftDefinition, RaftHandlers } from './gen/swarmlite/raft/Raft.js';

/** The control API's unary calls, on the leader in process or remote: `calls.listNodes(req)`. */
export type ControlCalls = UnaryService<ControlClient, ControlDefinition>;

/** A generated service's client constructor, with the definition servers register. */
export type ServiceConstructor<C extends grpc.Client> = (new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => C) & { service: grpc.ServiceDefinition };
