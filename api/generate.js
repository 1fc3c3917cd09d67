// Generates api/gen/ from proto/ with @grpc/proto-loader's proto-loader-gen-types: typed messages,
// clients and server handler maps for the decoding proto-loader performs at run time (api/rpc.ts).
// Both read the decoding options from proto/loader-options.json, so the types describe exactly the
// objects the loader produces. Run by `npm run build` before tsc; the output is not committed.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const protoDir = join(root, 'proto');
const outDir = join(root, 'api', 'gen');
const options = JSON.parse(readFileSync(join(protoDir, 'loader-options.json'), 'utf8'));
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
