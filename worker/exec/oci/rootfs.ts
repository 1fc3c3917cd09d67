// A container's root filesystem: an overlayfs of read-only lower folders (an image's unpacked
// layers, or the host's own root for the built-in `host` image) and a private upper folder, so
// layers are shared by every container and what a container writes is its own and goes with it.
// Mounted in the daemon's mount namespace at prepare, unmounted at remove.
import { lstatSync, mkdirSync, readlinkSync, readFileSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { run as runTool } from '../../../lib/exec.js';
import type { Runner } from '../../../lib/spawner.js';

export interface RootfsPaths {
  /** The merged view the container's root is (the bundle's `rootfs`). */
  merged: string;
  upper: string;
  work: string;
}

export function rootfsPaths(dir: string): RootfsPaths {
  return { merged: join(dir, 'rootfs'), upper: join(dir, 'upper'), work: join(dir, 'work') };
}

/** The kernel reads mount options from one page. */
const MAX_OPTIONS = 4000;

/** The overlay's mount options: lower folders top first. Pure; refuses what overlayfs would misread. */
export function overlayOptions(lowerDirs: readonly string[], paths: RootfsPaths): string {
  if (lowerDirs.length === 0) throw new Error('an image needs at least one layer');
  for (const dir of [...lowerDirs, paths.upper, paths.work])
    if (!posix.isAbsolute(dir) || /[,:\\\n]/.test(dir))
      throw new Error(`cannot use "${dir}" in an overlay: it must be absolute, without ',' ':' or '\\'`);
  const options = `lowerdir=${lowerDirs.join(':')},upperdir=${paths.upper},workdir=${paths.work}`;
  if (options.length > MAX_OPTIONS)
    throw new Error(`too many or too long layer paths for one overlay mount (${options.length} bytes)`);
  return options;
}

export async function mountRootfs(
  dir: string,
  lowerDirs: readonly string[],
  run: Runner = runTool,
): Promise<RootfsPaths> {
  const paths = rootfsPaths(dir);
  const options = overlayOptions(lowerDirs, paths);
  for (const d of [paths.merged, paths.upper, paths.work]) mkdirSync(d, { recursive: true, mode: 0o755 });
  await run('mount', ['-t', 'overlay', 'overlay', '-o', options, paths.merged]);
  return paths;
}

/** Whether a path is a mount point, from this process's mountinfo (field 5). */
export function isMounted(path: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): boolean {
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === path);
}

/**
 * The layer lists of every overlay mounted in this mount namespace (mountinfo's super options:
 * `lowerdir=/a:/b,upperdir=...`). A task's root stays mounted from prepare to removal, across daemon
 * restarts, so this is what tells which images containers use.
 */
export function mountedOverlayLowerDirs(
  mountinfo = readFileSync('/proc/self/mountinfo', 'utf8'),
): string[][] {
  const lists: string[][] = [];
  for (const line of mountinfo.split('\n')) {
    // Fields after the ' - ' separator: fstype, source, super options.
    const after = line.split(' - ')[1]?.split(' ');
    if (after?.[0] !== 'overlay') continue;
    const lower = after[2]?.split(',').find((o) => o.startsWith('lowerdir='));
    if (lower) lists.push(lower.slice('lowerdir='.length).split(':'));
  }
  return lists;
}

/** Unmounts (lazily when busy) and removes the private folders. Idempotent. */
export async function removeRootfs(dir: string, run: Runner = runTool): Promise<void> {
  const paths = rootfsPaths(dir);
  if (isMounted(paths.merged)) {
    try {
      await run('umount', [paths.merged]);
    } catch {
      // Busy: a process of ours still has it open; it goes when that process does.
      await run('umount', ['-l', paths.merged]);
    }
  }
  for (const d of [paths.merged, paths.upper, paths.work]) rmSync(d, { recursive: true, force: true });
}

/**
 * A path inside a root filesystem, following symlinks as the container would see them: an absolute
 * link (`/bin -> /usr/bin`) or a `..` never leaves the root. The result is a host path under root.
 * Used to look at an image's files (passwd, the command, the workdir) before the container runs.
 */
export function pathInRoot(root: string, path: string): string {
  let resolved = '/';
  const unresolved = posix.normalize(`/${path}`).split('/').filter(Boolean);
  for (let hops = 0; unresolved.length > 0;) {
    const part = unresolved.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved = posix.dirname(resolved);
      continue;
    }
    const next = posix.join(resolved, part);
    const host = join(root, next);
    let target: string | undefined;
    try {
      if (lstatSync(host).isSymbolicLink()) target = readlinkSync(host);
    } catch {
      // missing: the rest of the path is kept as it is
    }
    if (target === undefined) {
      resolved = next;
      continue;
    }
    if (++hops > 40) throw new Error(`too many levels of symbolic links in ${path}`);
    unresolved.unshift(...target.split('/').filter(Boolean));
    if (target.startsWith('/')) resolved = '/';
  }
  return join(root, resolved);
}
