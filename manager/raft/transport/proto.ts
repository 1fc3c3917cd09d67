// Loads proto/raft.proto at run time. The .proto file stays in the repository's proto/ folder (it is not
// copied by tsc), so the loader walks up from this module until it finds it: that works from the source
// tree and from any dist-*/ output folder alike.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const RAFT_PROTO_FILE = 'raft.proto';

/** Finds `relPath` in the nearest ancestor of `startDir` that has it; returns its absolute path. */
export function findUp(relPath: string, startDir = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = startDir; ; dir = dirname(dir)) {
    const candidate = join(dir, relPath);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`cannot find ${relPath} above ${startDir}`);
  }
}

/** The repository's proto/ folder (the one holding `file`). */
function findProtoDir(file: string): string {
  return dirname(findUp(join('proto', file)));
}

/**
 * Options shared by every loader of the project's protos: 64-bit integers as numbers, enums as their
 * numeric values (the same as the TypeScript enums), every field present with its default.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  defaults: true,
  arrays: true,
  oneofs: false,
};

let cached: grpc.ServiceDefinition | undefined;

/** The Raft service definition (method paths and protobuf (de)serializers). */
export function raftServiceDefinition(): grpc.ServiceDefinition {
  if (!cached) {
    const dir = findProtoDir(RAFT_PROTO_FILE);
    const pkg = protoLoader.loadSync(join(dir, RAFT_PROTO_FILE), {
      ...PROTO_LOADER_OPTIONS,
      includeDirs: [dir],
    });
    cached = pkg['swarmlite.raft.Raft'] as grpc.ServiceDefinition;
  }
  return cached;
}
