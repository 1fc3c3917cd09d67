// The image both sides of a benchmark run: one layer holding the busybox-static package's
// /bin/busybox and a few applets, as a `docker save` archive, so `docker load` and
// `swarmlite image load -i` read the very same file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerSaveTar, imageOf, layerOf, makeTar } from '../worker/images/test-images.js';
import { findTool } from '../lib/exec.js';

export const BENCH_IMAGE = 'swlbench/busybox:bench';
const APPLETS = ['sh', 'sleep', 'true', 'cat', 'ls', 'ps', 'nslookup', 'httpd'];

export interface BenchImage {
  /** The docker-save tar. */
  file: string;
  ref: string;
  /**
   * The image ID (its config's digest). Docker's swarm agent skips the registry for a task whose image
   * is given by ID; by tag it asks the registry on every task start, which this bench has no route to.
   */
  id: string;
}

/** Writes the archive into `dir` (the bench's temp dir). */
export async function writeBenchImage(dir: string): Promise<BenchImage> {
  const busybox = readFileSync(findTool('busybox'));
  const layer = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: busybox, mode: 0o755 },
    ...APPLETS.map((applet) => ({ name: `bin/${applet}`, type: 'symlink' as const, linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
  const image = imageOf([layerOf(layer, false)], { Env: ['PATH=/bin'], Cmd: ['sh'], WorkingDir: '/' });
  const file = join(dir, 'busybox-bench.tar');
  writeFileSync(file, await dockerSaveTar(image, [BENCH_IMAGE]));
  return { file, ref: BENCH_IMAGE, id: image.configDescriptor.digest };
}
