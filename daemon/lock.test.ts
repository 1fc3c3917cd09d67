import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockDataRoot } from './lock.js';
import { processStartTime } from '../lib/process.js';

function tempRoot(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'swl-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the lock is exclusive while its owner lives and released on release()', (t) => {
  const dir = tempRoot(t);
  const lock = lockDataRoot(dir);
  assert.throws(() => lockDataRoot(dir), /is in use by another swarmlite daemon \(pid \d+\)/);
  lock.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  lockDataRoot(dir).release();
});

test("a dead owner's lock is stale and taken over", (t) => {
  const dir = tempRoot(t);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited already
  writeFileSync(join(dir, LOCK_FILE), `${dead} 12345\n`);
  lockDataRoot(dir).release();
});

test('a lock naming a live pid with another start time (a reused pid) is stale', (t) => {
  const dir = tempRoot(t);
  const realStart = processStartTime(process.pid)!;
  writeFileSync(join(dir, LOCK_FILE), `${process.pid} ${Number(realStart) + 1}\n`);
  lockDataRoot(dir).release();
});

test('a garbage lock file is treated as stale, not as a crash', (t) => {
  const dir = tempRoot(t);
  writeFileSync(join(dir, LOCK_FILE), 'not a pid\n');
  lockDataRoot(dir).release();
});
