// Generates typed messages, clients and server handler maps with @grpc/proto-loader's
// proto-loader-gen-types, for the decoding proto-loader performs at run time (api/rpc.ts `loadProto`).
// Each folder of .proto files has a loader-options.json that both read, so the types describe exactly
// the objects the loader produces. Run by `npm run build` before tsc; the output is not committed.
//
// Two folders: proto/ (the swarm's wire API) → api/gen/; and manager/raft/kv/ (the test KV service of
// the kill-leader test and the Raft benchmark, and the two etcd RPCs that benchmark calls) →
// manager/raft/kv/gen/. Those are no part of the swarm's API, so they stay beside the only code that
// uses them rather than in proto/ and api/; but they are RPC boundaries all the same, and calling them
// through generated types is what keeps a method name or a field from being typed by hand.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const jobs = [
  { protoDir: join(root, 'proto'), outDir: join(root, 'api', 'gen') },
  { protoDir: join(root, 'manager', 'raft', 'kv'), outDir: join(root, 'manager', 'raft', 'kv', 'gen') },
];
const generator = createRequire(import.meta.url).resolve(
  '@grpc/proto-loader/build/bin/proto-loader-gen-types.js',
);

/** The generator's flags for one entry of loader-options.json (numbers and Long are its defaults). */
function flags(o) {
  const out = [];
  if (o.keepCase) out.push('--keepCase');
  if (o.longs === 'String' || o.longs === 'Number') out.push(`--longs=${o.longs}`);
  else throw new Error(`loader-options.json: longs must be String or Number, not ${o.longs}`);
  if (o.enums === 'String') out.push('--enums=String');
  else if (o.enums !== 'Number') throw new Error(`loader-options.json: enums must be String or Number`);
  for (const flag of ['defaults', 'arrays', 'objects', 'oneofs']) if (o[flag]) out.push(`--${flag}`);
  return out;
}

// The inputs are the files that declare a service; the messages they use, from whatever file, are
// generated with them (a message-only file as input would yield an unused, uncompilable index).
function generate({ protoDir, outDir }) {
  const options = JSON.parse(readFileSync(join(protoDir, 'loader-options.json'), 'utf8'));
  const files = readdirSync(protoDir)
    .filter((f) => f.endsWith('.proto') && /^service /m.test(readFileSync(join(protoDir, f), 'utf8')))
    .sort();
  // Files with options of their own are generated on their own; the rest together (they import each other).
  const groups = new Map();
  for (const file of files) {
    const key = options[file] ? file : 'default';
    groups.set(key, [...(groups.get(key) ?? []), file]);
  }
  rmSync(outDir, { recursive: true, force: true });
  for (const [key, group] of groups) {
    execFileSync(
      process.execPath,
      [
        generator,
        ...flags(options[key]),
        '--grpcLib=@grpc/grpc-js',
        '--importFileExtension=.js',
        `--includeDirs=${protoDir}`,
        `--outDir=${outDir}`,
        ...group,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
}

for (const job of jobs) generate(job);
