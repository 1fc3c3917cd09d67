// An exclusive lock on a daemon's data root, so two daemons never share (and corrupt) one Raft log.
//
// Node has no flock(2), so the lock is a file created atomically with link(2) and holding the owner's
// pid and start time. A lock whose owner is gone (crash, kill -9) is stale and taken over; the start
// time guards against the pid having been reused by an unrelated process since.
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../lib/errors.js';
import { isRunning, processRef, type ProcessRef } from '../lib/process.js';

export const LOCK_FILE = 'swarmlite.lock';

export interface DataRootLock {
  path: string;
  release(): void;
}

function readOwner(path: string): ProcessRef | undefined {
  try {
    const [pid, startTime] = readFileSync(path, 'utf8').trim().split(' ');
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 && startTime ? { pid: n, startTime } : undefined;
  } catch {
    return undefined;
  }
}

const inUse = (dataRoot: string, pid: number) =>
  new UserError(
    `data root ${dataRoot} is in use by another swarmlite daemon (pid ${pid}); stop it first or pick another --data-root`,
  );

export function lockDataRoot(dataRoot: string): DataRootLock {
  const path = join(dataRoot, LOCK_FILE);
  const me = processRef(process.pid);
  if (!me) throw new Error('cannot read this process start time from /proc');
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${me.pid} ${me.startTime}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temp, path);
        return {
          path,
          release() {
            const owner = readOwner(path);
            if (owner && owner.pid === me.pid && owner.startTime === me.startTime) unlinkSync(path);
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = readOwner(path);
      if (owner && isRunning(owner)) {
        throw inUse(dataRoot, owner.pid);
      }
      // Stale: its owner is gone. Move it aside atomically and look at what was moved: another
      // starter may have replaced the stale lock with its own live one in the meantime.
      const aside = `${path}.${process.pid}.stale`;
      try {
        renameSync(path, aside);
      } catch {
        continue; // someone else moved it first: try the link again
      }
      const moved = readOwner(aside);
      if (moved && isRunning(moved)) {
        try {
          linkSync(aside, path); // put the live lock back
        } finally {
          unlinkSync(aside);
        }
        throw inUse(dataRoot, moved.pid);
      }
      unlinkSync(aside);
    }
    throw new UserError(`could not lock data root ${dataRoot}: another daemon keeps racing for it`);
  } finally {
    unlinkSync(temp);
  }
}
