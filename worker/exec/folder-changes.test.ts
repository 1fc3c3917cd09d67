import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { folderChanges } from './folder-changes.js';

/** A backstop no test waits for: only the event, the abort or the poke can end these waits in time. */
const LONG = 600_000;
/** The tests fail (time out) when a wait is left to its backstop. */
const DEADLINE = { timeout: 30_000 };

test(
  'a file written in the folder wakes the wait; one written before the wait is kept for it',
  DEADLINE,
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'swl-folder-changes-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const changes = folderChanges(dir);
    t.after(() => changes.close());
    const woken = changes.next(LONG);
    writeFileSync(join(dir, 'exit'), '0\n');
    await woken;
    writeFileSync(join(dir, 'created'), '1\n');
    for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r)); // let the event arrive first
    await changes.next(LONG);
  },
);

test('the backstop, an abort and a poke end a wait without any change', DEADLINE, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-folder-changes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const changes = folderChanges(dir);
  t.after(() => changes.close());
  await changes.next(10);
  const abort = new AbortController();
  const aborted = changes.next(LONG, abort.signal);
  abort.abort();
  await aborted;
  await changes.next(LONG, abort.signal); // already aborted: at once
  const poked = changes.next(LONG);
  changes.poke();
  await poked;
});

test('a folder that does not exist: the backstop alone', async () => {
  const changes = folderChanges(join(tmpdir(), 'swl-folder-changes-none', 'x'));
  await changes.next(10);
  changes.close();
});
