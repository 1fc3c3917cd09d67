// Finds files that stay in the repository (they are not copied by tsc) from compiled code: walk up
// from this module until the file is there. That works from the source tree and from any dist-*/
// output folder alike. The Raft service itself is api/rpc.ts's `services.raft()`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Finds `relPath` in the nearest ancestor of `startDir` that has it; returns its absolute path. */
export function findUp(relPath: string, startDir = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = startDir; ; dir = dirname(dir)) {
    const candidate = join(dir, relPath);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`cannot find ${relPath} above ${startDir}`);
  }
}
