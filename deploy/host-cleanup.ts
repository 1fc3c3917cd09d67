// Removes what a host's swarmlite daemon made at run time once the daemon is stopped: its tasks
// (processes, namespaces, cgroups, files), its standalone containers, its overlay sandboxes and its
// bridge networks. Tasks outlive a daemon by design (the next one adopts them), so
// `install.sh --uninstall` runs this to leave the host as it was.
//   node dist/deploy/host-cleanup.js --data-root /var/lib/swarmlite --netns-prefix swl [--exec-root DIR]
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { containerRuntime, taskRuntime } from '../daemon/executor.js';
import { DAEMON_DEFAULTS } from '../daemon/options.js';
import { NETNS_PREFIX_PATTERN } from '../lib/netns-prefix.js';
import { BridgeDriver } from '../worker/network/bridge/driver.js';
import { OverlayDriver } from '../worker/network/overlay/driver.js';

export async function removeHostState(dataRoot: string, execRoot: string, prefix: string): Promise<string[]> {
  const failures: string[] = [];
  await taskRuntime(dataRoot, execRoot, prefix, hostname())
    .removeEverything()
    .catch((err: unknown) => failures.push(`tasks: ${String(err)}`));
  await containerRuntime(dataRoot, execRoot, prefix, hostname())
    .removeEverything()
    .catch((err: unknown) => failures.push(`containers: ${String(err)}`));
  const overlays = await new OverlayDriver({ prefix }).removeAll();
  for (const f of overlays.failures) failures.push(`overlays: ${f.error}`);
  await new BridgeDriver({ prefix })
    .removeAll()
    .catch((err: unknown) => failures.push(`bridges: ${String(err)}`));
  return failures;
}

async function main(): Promise<number> {
  let values: { 'data-root'?: string; 'exec-root'?: string; 'netns-prefix'?: string };
  try {
    ({ values } = parseArgs({
      options: {
        'data-root': { type: 'string' },
        'exec-root': { type: 'string', default: DAEMON_DEFAULTS.execRoot },
        'netns-prefix': { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`host-cleanup: ${(err as Error).message}`);
    return 2;
  }
  const dataRoot = values['data-root'];
  const prefix = values['netns-prefix'];
  if (
    !dataRoot?.startsWith('/') ||
    !values['exec-root']?.startsWith('/') ||
    !prefix ||
    !NETNS_PREFIX_PATTERN.test(prefix)
  ) {
    console.error('usage: host-cleanup --data-root /ABSOLUTE/PATH --netns-prefix PREFIX [--exec-root /PATH]');
    return 2;
  }
  const execRoot = values['exec-root']!;
  const failures = await removeHostState(dataRoot, execRoot, prefix);
  for (const f of failures) console.error(`host-cleanup: ${f}`);
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = await main();
