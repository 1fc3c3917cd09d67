// What the lab benchmarks share about the machine they run on: its CPU counters, waiting for it to be
// quiet before a phase, and polling for a condition at a fixed resolution.
import { readFileSync } from 'node:fs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** USER_HZ: /proc/stat counts in 1/100 s on Linux. */
export const TICKS_PER_S = 100;

/** Busy and total CPU time of the whole machine so far (/proc/stat's first line, in ticks). */
export function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + f[4]!; // idle + iowait
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Waits until the machine is quiet: a phase starts while the last one's leftovers still run (a lab
 * settling after its joins, the kernel freeing the reference's 100 network namespaces in a worker
 * thread), and would be measured with them. Quiet: two 250 ms windows under 15% busy, at most 30 s.
 * Returns what it waited, for the report.
 */
export async function quiet(): Promise<string> {
  const t0 = performance.now();
  let calm = 0;
  let share = 1;
  while (calm < 2 && performance.now() - t0 < 30_000) {
    const a = machineTicks();
    await sleep(250);
    const b = machineTicks();
    share = (b.busy - a.busy) / Math.max(1, b.total - a.total);
    calm = share < 0.15 ? calm + 1 : 0;
  }
  return `${((performance.now() - t0) / 1000).toFixed(1)} s, last window ${(share * 100).toFixed(0)}% busy`;
}

/** Polls `check` every `pollMs` until it holds; throws after `timeoutMs`. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  pollMs: number,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}
