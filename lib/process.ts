// Process identity: a pid alone can be reused by the kernel, so whenever swarmlite records a process
// it started (lab daemons, task processes) it records the pid together with the process's start time
// (field 22 of /proc/PID/stat), and only ever signals a pid whose start time still matches.
import { readFileSync } from 'node:fs';

export interface ProcessRef {
  pid: number;
  startTime: string;
}

/**
 * The fields of /proc/PID/stat from field 3 (the state) on; undefined once the process is gone. The
 * command name (field 2) may contain spaces and parentheses, so they start past the last ')'.
 */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19]; // field 22 overall
}

export function processRef(pid: number): ProcessRef | undefined {
  const startTime = processStartTime(pid);
  return startTime === undefined ? undefined : { pid, startTime };
}

/** True while the very process `ref` names is alive (not a zombie, not a reused pid). */
export function isRunning(ref: ProcessRef): boolean {
  const fields = statFields(ref.pid);
  return fields !== undefined && fields[19] === ref.startTime && fields[0] !== 'Z';
}

/** Signals the process `ref` names, if it is still that process. Returns whether a signal was sent. */
export function signalProcess(ref: ProcessRef, signal: NodeJS.Signals): boolean {
  if (!isRunning(ref)) return false;
  try {
    process.kill(ref.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `ref` has exited, up to timeoutMs; returns whether it did. */
export async function waitForExit(ref: ProcessRef, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(ref)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !isRunning(ref);
}

/** CPU time (user + system) the process has used so far, in seconds; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  const fields = statFields(pid);
  // utime and stime are fields 14 and 15 overall, in USER_HZ ticks (1/100 s on Linux).
  return fields && (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The process's command name (/proc/PID/comm), to check a pid is the program it should be. */
export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
