import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MissingToolError } from './errors.js';
import { CommandError, findTool, requireTools, run } from './exec.js';

test('a missing tool is named together with the Debian package that provides it', () => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    // Not cached and not in the sbin fallbacks: looked up for real, and missing.
    assert.throws(
      () => requireTools(['swarmlite-no-such-tool']),
      (err: unknown) => {
        assert.ok(err instanceof MissingToolError);
        assert.match(err.message, /needs the 'swarmlite-no-such-tool' command/);
        assert.match(err.message, /apt-get install swarmlite-no-such-tool/);
        return true;
      },
    );
  } finally {
    process.env.PATH = saved;
  }
});

test('several missing tools are reported in one error', () => {
  assert.throws(
    () => requireTools(['swarmlite-nope-a', 'swarmlite-nope-b']),
    /swarmlite-nope-a, swarmlite-nope-b/,
  );
});

test('a failing command reports its command line and stderr', async () => {
  findTool('ip');
  await assert.rejects(run('ip', ['link', 'show', 'dev', 'swl-no-such-link']), (err: unknown) => {
    assert.ok(err instanceof CommandError);
    assert.match(err.message, /ip link show dev swl-no-such-link failed \(exit 1\)/);
    assert.match(err.stderr, /does not exist/);
    return true;
  });
  assert.equal(await run('ip', ['link', 'show', 'dev', 'swl-no-such-link'], { okCodes: [1] }), '');
});

test('stdin input, stdout kept whole, a failure with its exit code and stderr, and a timeout', async () => {
  assert.equal(await run('sh', ['-c', 'read x; echo "got $x"'], { input: 'hi\n' }), 'got hi\n');
  await assert.rejects(
    run('sh', ['-c', 'cat >/dev/null; echo broken >&2; exit 3'], { input: 'x' }),
    (err: unknown) => {
      assert.ok(err instanceof CommandError);
      assert.equal(err.exitCode, 3);
      assert.equal(err.stderr, 'broken\n');
      return true;
    },
  );
  // A sleep of a minute that ends in an error was killed by the timeout (left alone it exits 0).
  await assert.rejects(run('sleep', ['60'], { timeoutMs: 100 }), (err: unknown) => {
    assert.ok(err instanceof CommandError);
    assert.equal(err.exitCode, undefined);
    assert.match(err.message, /sleep 60 failed: timed out after 100 ms/);
    return true;
  });
});
