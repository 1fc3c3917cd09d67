// CPU time per write, by process: what a write costs the machine rather than how long it waits. On a
// shared 2-core machine every process of a write (the bench's client, the leader, the followers)
// competes for the same cores, so CPU per write explains latency that a single process's stages
// cannot, and it moves much less with the machine's other load than latency does.
import { readFileSync } from 'node:fs';

/** Linux reports /proc/<pid>/stat times in USER_HZ ticks, 100 per second on every architecture we run on. */
const USER_HZ = 100;

/** utime + stime of `pid` in ms (10 ms resolution), or undefined if the process is gone. */
export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return statCpuMs(stat);
}

/** utime + stime in ms from one /proc/<pid>/stat line (the name in parentheses may hold spaces). */
export function statCpuMs(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the name start at the state (field 3 of proc(5)): utime is field 14, stime 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`not a /proc stat line: ${stat}`);
  return ((utime + stime) * 1000) / USER_HZ;
}

/** CPU ms summed over a run's slices: the leader, all members, and the bench process (the client). */
export interface CpuSums {
  leaderMs: number;
  membersMs: number;
  clientMs: number;
}

export const emptyCpu = (): CpuSums => ({ leaderMs: 0, membersMs: 0, clientMs: 0 });

/** Runs `slice` and adds its CPU time to `sums`: `leader` among `members` (pids), this process as the client. */
export async function measureCpu<T>(
  sums: CpuSums,
  pids: { leader: number | undefined; members: number[] },
  slice: () => Promise<T>,
): Promise<T> {
  const read = (): { leader: number; members: number } => {
    const members = pids.members.map((p) => processCpuMs(p) ?? 0);
    const leader = pids.leader === undefined ? 0 : (processCpuMs(pids.leader) ?? 0);
    return { leader, members: members.reduce((a, b) => a + b, 0) };
  };
  const before = read();
  const client = process.cpuUsage();
  const result = await slice();
  const after = read();
  const used = process.cpuUsage(client);
  sums.leaderMs += after.leader - before.leader;
  sums.membersMs += after.members - before.members;
  sums.clientMs += (used.user + used.system) / 1000;
  return result;
}
