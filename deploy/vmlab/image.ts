// The VM lab's base image, built once and cached: Debian (this machine's apt sources) with its kernel,
// systemd and sshd, the packages deploy/install.sh installs kept as an offline apt repository, and
// the lab's files (image-files.ts). Its cache key hashes everything that goes into it, so a change to
// install.sh's package list or to the image files builds a new one.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { run } from '../../lib/exec.js';
import { isRunning, processRef } from '../../lib/process.js';
import {
  IMAGE_APT_REPO,
  IMAGE_MASKED_UNITS,
  IMAGE_PACKAGES,
  IMAGE_UNITS,
  imageFiles,
  INITRAMFS_MODULES,
} from './image-files.js';
import type { BaseImage } from './plan.js';

export const DEBIAN_SUITE = 'bookworm';
const IMAGE_FORMAT = 1; // bump when the build steps change in a way the inputs below do not show
const DISK_SIZE = '4G';

/** Where images and the lab SSH key live (survives reboots; `rm -rf` it to rebuild everything). */
export function vmCacheRoot(): string {
  return process.env.SWARMLITE_VM_CACHE ?? '/var/cache/swarmlite-lab';
}

export interface CachedImage extends BaseImage {
  dir: string;
  /** The image's sshd host key (every VM of the image has it): the labs' known_hosts. */
  hostKey: string;
}

export function sshKeyPath(): string {
  return join(vmCacheRoot(), 'ssh', 'id_ed25519');
}

/** The lab's SSH key pair, made once (root-only). */
export async function ensureSshKey(): Promise<string> {
  const key = sshKeyPath();
  if (!existsSync(key)) {
    mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'swarmlite-lab', '-f', key]);
  }
  return readFileSync(`${key}.pub`, 'utf8');
}

/** The cache key: a digest of every input of the build. */
export function imageKey(installPackages: string[], sshPublicKey: string, sources: string): string {
  const inputs = {
    format: IMAGE_FORMAT,
    suite: DEBIAN_SUITE,
    sources,
    packages: IMAGE_PACKAGES,
    installPackages,
    units: IMAGE_UNITS,
    masked: IMAGE_MASKED_UNITS,
    initramfs: INITRAMFS_MODULES,
    files: imageFiles(sshPublicKey),
    size: DISK_SIZE,
  };
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
}

/** mmdebstrap's argv: the root file system in `rootfs`, install.sh's packages downloaded into the repo. */
export function mmdebstrapArgv(rootfs: string, installPackages: string[], sources: string): string[] {
  return [
    '--mode=root',
    '--variant=apt',
    '--format=directory',
    `--include=${IMAGE_PACKAGES.join(',')}`,
    // Downloaded, not installed: install.sh installs them on the VM, and --uninstall removes them.
    // The archive is emptied first: it still holds the debs of the image's own packages.
    '--customize-hook=rm -f "$1"/var/cache/apt/archives/*.deb',
    `--customize-hook=chroot "$1" apt-get install --download-only -y -qq --no-install-recommends ${installPackages.join(' ')}`,
    `--customize-hook=mkdir -p "$1${IMAGE_APT_REPO}" && mv "$1"/var/cache/apt/archives/*.deb "$1${IMAGE_APT_REPO}/"`,
    // A small initramfs: only the root disk's drivers (image-files.ts: INITRAMFS_MODULES), made here
    // where mmdebstrap still has /proc and /dev mounted in the root.
    `--customize-hook=echo MODULES=list > "$1"/etc/initramfs-tools/conf.d/swarmlite-lab.conf && printf '%s\\n' ${INITRAMFS_MODULES.join(' ')} >> "$1"/etc/initramfs-tools/modules && chroot "$1" update-initramfs -u -k all`,
    DEBIAN_SUITE,
    rootfs,
    sources,
  ];
}

/** The apt sources of this machine that mmdebstrap reuses (deb822 first, then the classic file). */
export function machineAptSources(): string {
  for (const candidate of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (existsSync(candidate) && readFileSync(candidate, 'utf8').trim() !== '') return candidate;
  }
  throw new UserError('no apt sources on this machine (/etc/apt/sources.list.d/debian.sources)');
}

/** Compressed-kernel magics in a bzImage, and the tool that inflates each. */
const KERNEL_COMPRESSIONS: [string, Buffer][] = [
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['gzip', Buffer.from([0x1f, 0x8b, 0x08])],
];

/** Where a bzImage's compressed kernel starts, and its compression: the first magic found. */
export function kernelPayload(bzImage: Buffer): { tool: string; offset: number } {
  let best: { tool: string; offset: number } | undefined;
  for (const [tool, magic] of KERNEL_COMPRESSIONS) {
    const offset = bzImage.indexOf(magic);
    if (offset >= 0 && (!best || offset < best.offset)) best = { tool, offset };
  }
  if (!best)
    throw new UserError('the image kernel is compressed in a way this lab cannot read (xz, zstd, gzip)');
  return best;
}

/**
 * The uncompressed kernel next to the bzImage. QEMU boots it through its PVH entry, skipping the
 * decompressor, which is where an emulated (TCG) or software-nested CPU spends most of its boot.
 */
async function ensurePvhKernel(dir: string): Promise<void> {
  const vmlinux = join(dir, 'vmlinux');
  if (existsSync(vmlinux)) return;
  const bzImage = join(dir, 'vmlinuz');
  const { tool, offset } = kernelPayload(readFileSync(bzImage));
  // The stream is followed by the rest of the bzImage: the tool's complaint about it (exit 1) is expected.
  await run('sh', ['-c', `tail -c +${offset + 1} "$1" | ${tool} -dc > "$2.tmp"`, 'sh', bzImage, vmlinux], {
    okCodes: [1],
    timeoutMs: 300_000,
  });
  const head = readFileSync(`${vmlinux}.tmp`).subarray(0, 4);
  if (!head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
    rmSync(`${vmlinux}.tmp`, { force: true });
    throw new UserError(`could not extract the kernel from ${bzImage} (${tool})`);
  }
  renameSync(`${vmlinux}.tmp`, vmlinux);
}

function imageAt(dir: string): CachedImage {
  return {
    dir,
    disk: join(dir, 'base.qcow2'),
    kernel: join(dir, 'vmlinux'),
    initrd: join(dir, 'initrd.img'),
    hostKey: readFileSync(join(dir, 'host_key.pub'), 'utf8').trim(),
  };
}

/** Takes the build lock (a folder holding the builder's pid); a dead builder's lock is taken over. */
async function lockBuild(lock: string, say: (l: string) => void): Promise<void> {
  for (let waited = 0; ; waited++) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(readFileSync(join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
    const owner = pid > 0 ? processRef(pid) : undefined;
    if (!owner || !isRunning(owner)) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (waited % 30 === 0) say(`  waiting for another build of the base image (pid ${pid})`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/** A failed mmdebstrap could leave /proc or /dev mounted in its root: never rm -rf through those. */
function assertNothingMountedUnder(dir: string): void {
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(dir + '/'));
  if (mounted.length > 0) {
    throw new UserError(
      `an earlier image build left mounts under ${dir}: unmount ${mounted.join(', ')} first`,
    );
  }
}

function newest(dir: string, prefix: string): string {
  const found = readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .sort();
  if (found.length === 0) throw new Error(`the image has no ${prefix}* in /boot`);
  return join(dir, found[found.length - 1]!);
}

export async function ensureBaseImage(
  installPackages: string[],
  say: (line: string) => void,
): Promise<CachedImage> {
  const sshPublicKey = await ensureSshKey();
  const sources = machineAptSources();
  const key = imageKey(installPackages, sshPublicKey, readFileSync(sources, 'utf8'));
  const images = join(vmCacheRoot(), 'images');
  const dir = join(images, key);
  if (existsSync(join(dir, 'complete'))) {
    await ensurePvhKernel(dir);
    return imageAt(dir);
  }
  mkdirSync(images, { recursive: true });
  const lock = `${dir}.lock`;
  await lockBuild(lock, say);
  try {
    if (existsSync(join(dir, 'complete'))) {
      await ensurePvhKernel(dir);
      return imageAt(dir);
    }
    const build = `${dir}.build`;
    assertNothingMountedUnder(build);
    rmSync(build, { recursive: true, force: true });
    mkdirSync(build, { recursive: true });
    const rootfs = join(build, 'rootfs');
    const started = Date.now();
    say(`building the base image ${key} (Debian ${DEBIAN_SUITE}, once; a few minutes) ...`);
    await run('nice', ['-n', '10', 'mmdebstrap', ...mmdebstrapArgv(rootfs, installPackages, sources)], {
      timeoutMs: 30 * 60_000,
    });
    const repo = join(rootfs, IMAGE_APT_REPO);
    writeFileSync(
      join(repo, 'Packages'),
      // Run in the repository so the index names files relative to it (./name.deb).
      await run('sh', ['-c', 'cd "$1" && exec dpkg-scanpackages --multiversion . /dev/null', 'sh', repo], {
        timeoutMs: 120_000,
      }),
    );
    rmSync(join(rootfs, 'etc/apt/sources.list.d'), { recursive: true, force: true });
    mkdirSync(join(rootfs, 'etc/apt/sources.list.d'));
    for (const [path, content] of Object.entries(imageFiles(sshPublicKey))) {
      mkdirSync(dirname(join(rootfs, path)), { recursive: true, mode: 0o755 });
      writeFileSync(join(rootfs, path), content, { mode: path.includes('/.ssh/') ? 0o600 : 0o644 });
    }
    chmodSync(join(rootfs, 'root/.ssh'), 0o700);
    await run('systemctl', ['--root', rootfs, 'enable', ...IMAGE_UNITS]);
    await run('systemctl', ['--root', rootfs, 'mask', ...IMAGE_MASKED_UNITS]);
    writeFileSync(
      join(build, 'host_key.pub'),
      readFileSync(join(rootfs, 'etc/ssh/ssh_host_ed25519_key.pub')),
    );
    const boot = join(rootfs, 'boot');
    renameSync(newest(boot, 'vmlinuz-'), join(build, 'vmlinuz'));
    renameSync(newest(boot, 'initrd.img-'), join(build, 'initrd.img'));
    const raw = join(build, 'root.raw');
    await run('mkfs.ext4', ['-q', '-F', '-L', 'swarmlite-lab', '-d', rootfs, raw, DISK_SIZE], {
      timeoutMs: 10 * 60_000,
    });
    await run('qemu-img', ['convert', '-O', 'qcow2', raw, join(build, 'base.qcow2')], {
      timeoutMs: 10 * 60_000,
    });
    rmSync(raw);
    rmSync(rootfs, { recursive: true, force: true });
    writeFileSync(join(build, 'complete'), `${new Date().toISOString()} ${Date.now() - started} ms\n`);
    await ensurePvhKernel(build);
    rmSync(dir, { recursive: true, force: true });
    renameSync(build, dir);
    say(`  base image built in ${((Date.now() - started) / 1000).toFixed(0)} s: ${dir}`);
    return imageAt(dir);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
