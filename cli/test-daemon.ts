// A real daemon for the CLI's tests: its own data root, exec root and socket under a temporary folder,
// started through the real launcher and stopped (and its folder removed) when the test ends.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { daemonClient, localInfo } from '../daemon/client.js';
import { swarmliteBin } from '../lib/repo.js';
import { PROCESS_DEADLINE_MS } from '../test/support.js';

/**
 * A daemon on `dir`/data with its socket at `socket` (and `extra` flags), as a child of the test. It
 * runs in the test's (the machine's) network namespace, so it makes no default bridge there (`--bridge
 * none`) unless `extra` says otherwise: tests of the bridge run their daemon in a namespace of their own.
 */
export function spawnDaemon(dir: string, socket: string, logLevel: string, extra: string[] = []) {
  const args = [
    'daemon',
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--socket',
    socket,
    ...(extra.includes('--bridge') ? [] : ['--bridge', 'none']),
    ...extra,
  ];
  return spawn(process.execPath, [swarmliteBin(), ...args, '--log-level', logLevel], { stdio: 'ignore' });
}

/** Resolves once the daemon at `socket` answers `info`; the last error after `timeoutMs`. */
export async function waitForDaemon(socket: string, timeoutMs = PROCESS_DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = daemonClient(`unix://${socket}`);
    try {
      await localInfo(client, 1_000);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      client.close();
    }
  }
}

/**
 * A serving daemon in a fresh `swl-<tag>-` folder (socket at `socketPath` inside it, `extra` daemon
 * flags), gone after `t`.
 */
export async function startTestDaemon(
  t: TestContext,
  tag: string,
  socketPath = 's.sock',
  extra: string[] = [],
): Promise<{ dir: string; socket: string }> {
  const dir = mkdtempSync(join(tmpdir(), `swl-${tag}-`));
  const socket = join(dir, socketPath);
  const daemon = spawnDaemon(dir, socket, 'warn', extra);
  t.after(() => {
    daemon.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForDaemon(socket);
  return { dir, socket };
}
