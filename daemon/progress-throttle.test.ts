// The progress throttle on a fake clock: byte counts at most once per interval per layer, the last
// one and every status change always, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProgressEvent } from '../worker/images/pull.js';
import { ProgressThrottle } from './progress-throttle.js';

test('byte counts are thinned per layer; status changes and completions pass', () => {
  let now = 0;
  const sent: ProgressEvent[] = [];
  const t = new ProgressThrottle(
    (e) => sent.push(e),
    100,
    () => now,
  );
  const dl = (id: string, current: number) => t.push({ id, status: 'Downloading', current, total: 1000 });
  t.push({ id: 'a', status: 'Pulling fs layer' });
  dl('a', 10); // first count: sent
  now = 50;
  dl('a', 20); // within 100 ms: dropped
  dl('b', 5); // another layer: its own clock
  now = 120;
  dl('a', 30); // interval passed
  now = 130;
  dl('a', 1000); // complete: always
  t.push({ id: 'a', status: 'Download complete' });
  assert.deepEqual(
    sent.map((e) => `${e.id}:${e.status}:${e.current ?? ''}`),
    [
      'a:Pulling fs layer:',
      'a:Downloading:10',
      'b:Downloading:5',
      'a:Downloading:30',
      'a:Downloading:1000',
      'a:Download complete:',
    ],
  );
});
