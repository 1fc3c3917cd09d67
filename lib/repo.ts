// Locates files that ship with swarmlite (proto/, bin/) whether the code runs from the source tree
// through dist/ or from an installed package: walk up from this module to the package root.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'swarmlite') {
      cachedRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the swarmlite package root above ' + import.meta.url);
    dir = parent;
  }
}

export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;
}

/** The `swarmlite` launcher; tasks and lab hosts put its folder first on PATH. */
export function swarmliteBin(): string {
  return join(packageRoot(), 'bin', 'swarmlite.js');
}

export function protoDir(): string {
  return join(packageRoot(), 'proto');
}
