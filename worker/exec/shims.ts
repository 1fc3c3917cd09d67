// The helpers every task runs on (worker/exec/shim/*.sh), copied into the runtime's root under
// a folder named by their content. Shells read scripts as they go, so a script must never change
// under a running task: an upgraded swarmlite gets a new folder, running tasks keep the old one.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/repo.js';

export const SHIM_SCRIPTS = ['oci-start.sh', 'oci-shim.pl', 'task-log.sh'] as const;

export interface ShimPaths {
  dir: string;
  start: string;
}

export function installShims(root: string): ShimPaths {
  const source = join(packageRoot(), 'worker', 'exec', 'shim');
  const texts = SHIM_SCRIPTS.map((name) => [name, readFileSync(join(source, name), 'utf8')] as const);
  const hash = createHash('sha256');
  for (const [name, text] of texts) hash.update(`${name}\0${text}\0`);
  const dir = join(root, `.shim-${hash.digest('hex').slice(0, 12)}`);
  if (!existsSync(dir)) {
    const tmp = `${dir}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    for (const [name, text] of texts) writeFileSync(join(tmp, name), text, { mode: 0o755 });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(dir)) throw err; // another runtime on the same root won the race otherwise
    }
  }
  return { dir, start: join(dir, 'oci-start.sh') };
}
