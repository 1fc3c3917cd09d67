// The Debian packages a VM lab drives (QEMU, qemu-img, mmdebstrap, ...), installed with apt-get the
// first time a VM lab needs them, never at import time; one `apt-get update` retry for stale lists.
import { MissingToolError } from '../../lib/errors.js';
import { findTool, run } from '../../lib/exec.js';

/** tool → Debian package; installs the packages of every missing tool in one apt-get call. */
export async function ensureDebianTools(
  tools: Record<string, string>,
  say: (l: string) => void,
): Promise<void> {
  const missing = () =>
    Object.entries(tools).filter(([tool]) => {
      try {
        findTool(tool);
        return false;
      } catch (err) {
        if (err instanceof MissingToolError) return true;
        throw err;
      }
    });
  const packages = [...new Set(missing().map(([, pkg]) => pkg))];
  if (packages.length === 0) return;
  say(`installing ${packages.join(' ')} with apt-get ...`);
  process.env.DEBIAN_FRONTEND ??= 'noninteractive';
  const install = () =>
    run(
      'apt-get',
      ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-qq', '--no-install-recommends', ...packages],
      {
        timeoutMs: 900_000,
      },
    );
  try {
    await install();
  } catch {
    await run('apt-get', ['update', '-qq'], { timeoutMs: 300_000 });
    await install();
  }
  const still = missing().map(([tool]) => tool);
  if (still.length > 0) throw new MissingToolError(still.join(', '), packages.join(' '));
}
