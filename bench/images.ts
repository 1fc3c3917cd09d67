// Layer unpacking speed: swarmlite's unpacker (worker/images/unpack.ts: every entry placed by an lstat
// walk, owners, modes, times, the diff ID hashed) against GNU `tar -xzf` on the same gzipped layer, in
// alternating rounds so both see the same machine load. The layer is the repository's node_modules
// (thousands of small files and a few large ones: the shape of a real application layer).
//   node dist/bench/images.js [--rounds N]      (root: owners are restored as archived)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { findTool, run } from '../lib/exec.js';
import { packageRoot } from '../lib/repo.js';
import { unpackLayerFile } from '../worker/images/unpack.js';

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function countEntries(dir: string): Promise<number> {
  return (await readdir(dir, { recursive: true })).length;
}

async function main(): Promise<void> {
  findTool('tar');
  const work = await mkdtemp(join(tmpdir(), 'swlt-bench-img-'));
  try {
    const layer = join(work, 'layer.tar.gz');
    // GNU tar makes the layer, as `docker build` tools do (gzip at the default level).
    const made = spawnSync('sh', [
      '-c',
      `tar -C '${packageRoot()}' --numeric-owner -czf '${layer}' node_modules`,
    ]);
    if (made.status !== 0) throw new Error(`tar failed: ${made.stderr.toString()}`);
    const gz = (await stat(layer)).size;
    const raw = gunzipSync(await readFile(layer));
    const diffId = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    const mb = raw.length / 1e6;
    const ours: number[] = [];
    const theirs: number[] = [];
    let entries = { ours: 0, tar: 0 };
    for (let i = 0; i < rounds; i++) {
      const a = join(work, `ours${i}`);
      await mkdir(a);
      let t0 = performance.now();
      await unpackLayerFile(layer, a, diffId, 'bench layer');
      ours.push(performance.now() - t0);
      const b = join(work, `tar${i}`);
      await mkdir(b);
      t0 = performance.now();
      await run('tar', ['-xzf', layer, '-C', b, '--numeric-owner', '--same-permissions'], {
        timeoutMs: 600_000,
      });
      theirs.push(performance.now() - t0);
      entries = { ours: await countEntries(a), tar: await countEntries(b) };
      await rm(a, { recursive: true, force: true });
      await rm(b, { recursive: true, force: true });
    }
    if (entries.ours !== entries.tar) throw new Error(`unpacked ${entries.ours} entries, tar ${entries.tar}`);
    const [o, t] = [median(ours), median(theirs)];
    console.log(
      `layer: node_modules, ${entries.tar} entries, ${mb.toFixed(1)} MB uncompressed, ${(gz / 1e6).toFixed(1)} MB gzipped`,
    );
    console.log(`rounds: ${rounds} (medians)`);
    console.log(
      `swarmlite unpack : ${o.toFixed(0)} ms  ${(mb / (o / 1000)).toFixed(0)} MB/s  ${(entries.ours / (o / 1000)).toFixed(0)} entries/s`,
    );
    console.log(
      `GNU tar -xzf     : ${t.toFixed(0)} ms  ${(mb / (t / 1000)).toFixed(0)} MB/s  ${(entries.tar / (t / 1000)).toFixed(0)} entries/s`,
    );
    console.log(`ratio (tar time / swarmlite time): ${(t / o).toFixed(2)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
