// The lab's share: a copy of this working tree as install.sh installs it (built, production
// dependencies only) and the Node.js package install.sh is pinned to. The VMs reach no registry, so
// everything they install comes from here or from the image's apt repository.
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../lib/errors.js';

/** Entries of the tree install.sh copies (its APP_ENTRIES, besides node_modules). */
export const TREE_ENTRIES = [
  'package.json',
  'package-lock.json',
  'README.md',
  'bin',
  'dist',
  'proto',
  'deploy',
  // The scripts every task starts through (worker/exec/shims.ts reads them from the tree).
  'worker/exec/shim',
];

interface LockFile {
  lockfileVersion?: number;
  packages?: Record<string, { dev?: boolean; devOptional?: boolean }>;
}

/**
 * The top-level node_modules folders a production install needs, from package-lock.json (v2/v3):
 * every package not marked dev. Nested copies live inside their parent's folder and come with it.
 */
export function productionPackageDirs(lockText: string): string[] {
  let lock: LockFile;
  try {
    lock = JSON.parse(lockText) as LockFile;
  } catch (err) {
    throw new UserError(`package-lock.json does not parse: ${(err as Error).message}`);
  }
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) {
    throw new UserError('package-lock.json has no "packages" map (lockfileVersion 2 or 3 needed)');
  }
  return Object.entries(lock.packages)
    .filter(([path, meta]) => /^node_modules\/(@[^/]+\/)?[^/@][^/]*$/.test(path) && !meta.dev)
    .map(([path]) => path)
    .sort();
}

export interface InstallPins {
  nodePackage: string;
  nodeVersion: string;
  nodeSha512: string;
}

/** The Node.js package install.sh is pinned to, read from the script itself (one source of truth). */
export function installScriptPins(script: string): InstallPins {
  const value = (name: string) => {
    const m = new RegExp(`\\b${name}=([A-Za-z0-9+/=._-]+)`).exec(script);
    if (!m) throw new UserError(`deploy/install.sh sets no ${name}`);
    return m[1]!;
  };
  return {
    nodePackage: value('NODE_PKG'),
    nodeVersion: value('NODE_VERSION'),
    nodeSha512: value('NODE_SHA512'),
  };
}

/**
 * Whether a file of the tree goes into the share: everything but the compiled tests (`*.test.js` and
 * their source maps), which nothing at run time imports. install.sh copies the share file by file
 * over 9p into every VM; on an emulated CPU each file costs, and the tests were a quarter of dist/.
 */
export function isStaged(path: string): boolean {
  return !/\.test\.js(\.map)?$/.test(path);
}

/**
 * Copies the tree at `root` into `dest` (a fresh folder): the runtime files (isStaged) and the
 * production dependencies present (an optional package for another platform is absent, and not needed).
 */
export function stageTree(root: string, dest: string): void {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
    throw new UserError(`${root} is not built: run 'npm run build' (or deploy/setup.sh) first`);
  }
  mkdirSync(dest, { recursive: true });
  for (const entry of TREE_ENTRIES) {
    if (existsSync(join(root, entry))) {
      cpSync(join(root, entry), join(dest, entry), { recursive: true, filter: isStaged });
    }
  }
  const lock = readFileSync(join(root, 'package-lock.json'), 'utf8');
  for (const dir of productionPackageDirs(lock)) {
    const from = join(root, dir);
    if (existsSync(from)) cpSync(from, join(dest, dir), { recursive: true, dereference: true });
  }
}
