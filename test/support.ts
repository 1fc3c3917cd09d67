// Small helpers every kind of test uses: free loopback ports, and waiting for a condition.
import { createServer, type Server } from 'node:net';

/**
 * How long a test lets one child process (a CLI call, a daemon getting ready) take before calling it
 * hung. A CLI call takes under a second on a quiet machine, but the suite runs on two shared cores
 * beside other jobs: at load 30-48 a cold start of node took over 20 s. A hang still fails, later.
 */
export const PROCESS_DEADLINE_MS = 120_000;

/** Ports the kernel just handed out on `host` and released: free for a test to bind next. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, host, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * Polls `check` until it returns a truthy value (which is returned) or `timeoutMs` passes. A check
 * that throws counts as "not yet"; its last error is quoted if time runs out.
 */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
