import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decideRestart,
  formatRestartPolicy,
  parseRestartPolicy,
  startAtDaemonStart,
  type EndedRun,
  type RestartPolicy,
} from './restart-policy.js';

test('parseRestartPolicy takes Docker forms and refuses the rest', () => {
  const ok: [string, RestartPolicy][] = [
    ['no', { name: 'no', maximumRetryCount: 0 }],
    ['always', { name: 'always', maximumRetryCount: 0 }],
    ['unless-stopped', { name: 'unless-stopped', maximumRetryCount: 0 }],
    ['on-failure', { name: 'on-failure', maximumRetryCount: 0 }],
    ['on-failure:3', { name: 'on-failure', maximumRetryCount: 3 }],
  ];
  for (const [text, want] of ok) {
    assert.deepEqual(parseRestartPolicy(text), want, text);
    assert.equal(formatRestartPolicy(want), text === 'on-failure:0' ? 'on-failure' : text);
  }
  const bad: [string, RegExp][] = [
    ['sometimes', /invalid restart policy 'sometimes': use no, always/],
    ['', /invalid restart policy ''/],
    ['always:3', /maximum retry count can only be used with 'on-failure'/],
    ['on-failure:x', /invalid restart policy 'on-failure:x'/],
    ['on-failure:-1', /invalid restart policy/],
    ['on-failure:1:2', /invalid restart policy/],
    ['Always', /invalid restart policy/],
  ];
  for (const [text, want] of bad) assert.throws(() => parseRestartPolicy(text), want, text);
});

test('decideRestart: which ended runs come back, and after how long', () => {
  const run = (o: Partial<EndedRun>): EndedRun => ({
    exitCode: 1,
    manuallyStopped: false,
    restartCount: 0,
    ranMs: 50,
    previousDelayMs: 0,
    ...o,
  });
  const p = (text: string) => parseRestartPolicy(text);
  const rows: [string, Partial<EndedRun>, number | false][] = [
    ['no', {}, false],
    ['no', { exitCode: 0 }, false],
    ['always', { exitCode: 0 }, 100],
    ['always', { exitCode: 3 }, 100],
    ['always', { manuallyStopped: true }, false],
    ['unless-stopped', { exitCode: 0 }, 100],
    ['unless-stopped', { manuallyStopped: true }, false],
    ['on-failure', { exitCode: 0 }, false],
    ['on-failure', { exitCode: 2, restartCount: 100 }, 100],
    ['on-failure:2', { exitCode: 2, restartCount: 1 }, 100],
    ['on-failure:2', { exitCode: 2, restartCount: 2 }, false],
    ['on-failure:2', { exitCode: 137, manuallyStopped: true }, false],
    // back-off: doubles while runs are short, capped at a minute, reset after a long run
    ['always', { previousDelayMs: 100 }, 200],
    ['always', { previousDelayMs: 3200 }, 6400],
    ['always', { previousDelayMs: 40_000 }, 60_000],
    ['always', { previousDelayMs: 60_000 }, 60_000],
    ['always', { previousDelayMs: 60_000, ranMs: 10_000 }, 100],
  ];
  for (const [policy, facts, want] of rows) {
    const got = decideRestart(p(policy), run(facts));
    assert.deepEqual(
      got,
      want === false ? { restart: false } : { restart: true, delayMs: want },
      `${policy} ${JSON.stringify(facts)}`,
    );
  }
});

test('startAtDaemonStart follows Docker: always even after a stop, unless-stopped not after one', () => {
  const rows: [string, boolean, boolean, number, number, boolean][] = [
    // policy, wasRunning, manuallyStopped, exitCode, restartCount, start?
    ['no', true, false, 1, 0, false],
    ['always', false, true, 0, 0, true],
    ['always', true, false, 0, 0, true],
    ['unless-stopped', false, true, 0, 0, false],
    ['unless-stopped', true, false, 0, 0, true],
    ['unless-stopped', false, false, 0, 0, true],
    ['on-failure', true, false, 1, 0, true],
    ['on-failure', true, false, 0, 0, false],
    ['on-failure', false, false, 1, 0, false],
    ['on-failure', true, true, 1, 0, false],
    ['on-failure:2', true, false, 1, 2, false],
    ['on-failure:2', true, false, 1, 1, true],
  ];
  for (const [policy, wasRunning, manuallyStopped, exitCode, restartCount, want] of rows)
    assert.equal(
      startAtDaemonStart(parseRestartPolicy(policy), { wasRunning, manuallyStopped, exitCode, restartCount }),
      want,
      `${policy} running=${wasRunning} stopped=${manuallyStopped} exit=${exitCode} restarts=${restartCount}`,
    );
});
