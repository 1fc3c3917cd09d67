// The CLI's line for a daemon it cannot reach says why, by what opening the socket says (issue 18,
// fault 9: a socket the user may not open was answered "Is the daemon running?").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unreachableDaemon, withDaemon } from './client.js';

const TARGET = 'unix:///run/swarmlite/swarmlite.sock';

/** [errno of opening the socket, what the user reads, what it must not say] */
const CASES: [string | undefined, RegExp, RegExp | undefined][] = [
  [
    'EACCES',
    /^permission denied on the swarmlite daemon's socket \/run\/swarmlite\/swarmlite\.sock: only root may use it\. Run the command as root/,
    /daemon running/,
  ],
  ['EPERM', /^permission denied on the swarmlite daemon's socket/, /daemon running/],
  [
    'ENOENT',
    /^Cannot connect to the swarmlite daemon at unix:\/\/\/run\/swarmlite\/swarmlite\.sock: no socket at \/run\/swarmlite\/swarmlite\.sock\. Is the daemon running\? Start it/,
    undefined,
  ],
  [
    undefined,
    /^Cannot connect to the swarmlite daemon at unix:\/\/\/run\/swarmlite\/swarmlite\.sock\. Is the daemon running\?/,
    undefined,
  ],
];

test('an unreachable daemon is explained by why its socket cannot be opened', () => {
  for (const [problem, says, never] of CASES) {
    const err = unreachableDaemon(TARGET, problem);
    assert.equal(err.exitCode, 1);
    assert.match(err.message, says);
    if (never) assert.doesNotMatch(err.message, never);
    assert.doesNotMatch(err.message, /Resolution note|UNAVAILABLE|\n/);
  }
});

test('a socket that does not exist is told as such, in one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-client-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const target = `unix://${join(dir, 'none.sock')}`;
  await assert.rejects(
    withDaemon(target, (calls) => calls.info({}, 5_000)),
    (err: Error) => {
      assert.match(
        err.message,
        /^Cannot connect to the swarmlite daemon at .*: no socket at .*none\.sock\. Is the daemon running\?/,
      );
      return true;
    },
  );
});
