// What the image verbs print: Docker's sizes, the `image ls` table, and the progress display in both
// its modes (a terminal redraws a layer's line in place; a log gets a line per status change).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanSize, imageTable, progressBar, ProgressDisplay, splitTag } from './image-output.js';

test('sizes in Docker decimal units, three significant digits', () => {
  const cases: [number, string][] = [
    [0, '0B'],
    [527, '527B'],
    [1240, '1.24kB'],
    [4_264_000, '4.26MB'],
    [77_800_000, '77.8MB'],
    [1_500_000_000, '1.5GB'],
  ];
  for (const [n, want] of cases) assert.equal(humanSize(n), want, String(n));
});

test('a repository with a registry port keeps its colon; the tag is after the last slash', () => {
  assert.deepEqual(splitTag('busybox:latest'), ['busybox', 'latest']);
  assert.deepEqual(splitTag('localhost:5000/app:v1'), ['localhost:5000/app', 'v1']);
  assert.deepEqual(splitTag('localhost:5000/app'), ['localhost:5000/app', '<none>']);
});

test('image ls: a row per tag, <none> for an untagged image, Docker columns', () => {
  const now = Date.parse('2026-12-07T00:00:00Z');
  const id = `sha256:${'ab'.repeat(32)}`;
  const out = imageTable(
    [
      {
        id,
        repoTags: ['busybox:latest', 'localhost:5000/bb:v1'],
        repoDigests: [],
        created: now / 1000 - 7200,
        size: 4_264_000,
      },
      {
        id: `sha256:${'cd'.repeat(32)}`,
        repoTags: [],
        repoDigests: ['localhost:5000/old@sha256:00'],
        created: 0,
        size: 527,
      },
    ],
    now,
  );
  assert.equal(
    out,
    [
      'REPOSITORY           TAG      IMAGE ID       CREATED       SIZE',
      'busybox              latest   abababababab   2 hours ago   4.26MB',
      'localhost:5000/bb    v1       abababababab   2 hours ago   4.26MB',
      'localhost:5000/old   <none>   cdcdcdcdcdcd   N/A           527B',
    ].join('\n'),
  );
});

test('progress bar: filled in proportion, the byte counts after it', () => {
  assert.equal(progressBar(0, 100), `[>${' '.repeat(49)}]       0B/100B`);
  assert.equal(progressBar(50, 100), `[${'='.repeat(25)}>${' '.repeat(24)}]      50B/100B`);
  assert.equal(progressBar(100, 100), `[${'='.repeat(50)}]     100B/100B`);
});

test('progress on a terminal: each layer keeps its line and is redrawn in place', () => {
  let out = '';
  const d = new ProgressDisplay((t) => (out += t), true);
  d.show({ id: 'latest', status: 'Pulling from library/busybox' });
  d.show({ id: 'aaaaaaaaaaaa', status: 'Pulling fs layer' });
  d.show({ id: 'bbbbbbbbbbbb', status: 'Pulling fs layer' });
  out = '';
  d.show({ id: 'aaaaaaaaaaaa', status: 'Downloading', progressDetail: { current: 50, total: 100 } });
  // two lines up (to layer a), clear it, draw, two lines back down
  assert.equal(out, `\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Downloading ${progressBar(50, 100)}\x1b[2B\r`);
  out = '';
  d.show({ id: '', status: 'Digest: sha256:00' });
  d.show({ id: '', status: '' });
  assert.equal(out, 'Digest: sha256:00\n', 'whole-image lines are new lines; empty ones are not shown');
  out = '';
  d.show({ id: 'bbbbbbbbbbbb', status: 'Pull complete' });
  assert.equal(out, '\x1b[2A\r\x1b[2Kbbbbbbbbbbbb: Pull complete\x1b[2B\r');
});

test('progress in a log: a line per status change, no byte counts', () => {
  let out = '';
  const d = new ProgressDisplay((t) => (out += t), false);
  d.show({ id: 'aaaaaaaaaaaa', status: 'Pulling fs layer' });
  d.show({ id: 'aaaaaaaaaaaa', status: 'Downloading', progressDetail: { current: 1, total: 100 } });
  d.show({ id: 'aaaaaaaaaaaa', status: 'Downloading', progressDetail: { current: 99, total: 100 } });
  d.show({ id: 'aaaaaaaaaaaa', status: 'Pull complete' });
  d.show({ id: '', status: 'Status: Downloaded newer image for busybox:latest' });
  assert.equal(
    out,
    'aaaaaaaaaaaa: Pulling fs layer\naaaaaaaaaaaa: Downloading\naaaaaaaaaaaa: Pull complete\n' +
      'Status: Downloaded newer image for busybox:latest\n',
  );
});
