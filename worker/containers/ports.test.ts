import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  exposedRequests,
  formatPortLines,
  listeningPorts,
  parsePublish,
  resolvePorts,
  type PortRequest,
} from './ports.js';

test('parsePublish: Docker -p forms, bad ones refused by name', () => {
  const rows: [string, PortRequest][] = [
    ['80', { protocol: 'tcp', containerPort: 80, hostPort: 0 }],
    ['8080:80', { protocol: 'tcp', containerPort: 80, hostPort: 8080 }],
    ['8053:53/udp', { protocol: 'udp', containerPort: 53, hostPort: 8053 }],
    ['127.0.0.1:8080:80', { protocol: 'tcp', containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1' }],
    ['127.0.0.1::80/tcp', { protocol: 'tcp', containerPort: 80, hostPort: 0, hostIp: '127.0.0.1' }],
    ['0.0.0.0:8080:80', { protocol: 'tcp', containerPort: 80, hostPort: 8080 }],
  ];
  for (const [spec, want] of rows) assert.deepEqual(parsePublish(spec), want, spec);
  const bad: [string, RegExp][] = [
    ['', /invalid port specification ""/],
    ['80/sctp', /invalid protocol "sctp"/],
    ['80/tcp/x', /invalid port specification/],
    ['1:2:3:4', /invalid port specification/],
    ['http', /invalid container port "http"/],
    ['0', /invalid container port "0"/],
    ['70000:80', /invalid host port "70000"/],
    ['host:80:80', /invalid host IP "host"/],
    ['8080:', /invalid container port ""/],
  ];
  for (const [spec, want] of bad) assert.throws(() => parsePublish(spec), want, spec);
});

test('resolvePorts: explicit ports kept, -P and open ports take the lowest free ephemeral ones', () => {
  const exposed = exposedRequests(['80/tcp', '53/udp', '443']);
  assert.deepEqual(exposed, [
    { protocol: 'tcp', containerPort: 80, hostPort: 0 },
    { protocol: 'udp', containerPort: 53, hostPort: 0 },
    { protocol: 'tcp', containerPort: 443, hostPort: 0 },
  ]);
  // -p 8080:80 -P: 80 keeps 8080; 53/udp and 443 take 32768 (udp and tcp are separate) and 32769 (32768/tcp taken).
  assert.deepEqual(resolvePorts([parsePublish('8080:80')], exposed, true, new Set(['32768/tcp'])), [
    { protocol: 'tcp', containerPort: 80, hostPort: 8080 },
    { protocol: 'udp', containerPort: 53, hostPort: 32768 },
    { protocol: 'tcp', containerPort: 443, hostPort: 32769 },
  ]);
  // Without -P the exposed ports stay unpublished.
  assert.deepEqual(resolvePorts([parsePublish('127.0.0.1::80')], exposed, false, new Set()), [
    { protocol: 'tcp', containerPort: 80, hostPort: 32768, hostIp: '127.0.0.1' },
  ]);
  assert.throws(
    () => resolvePorts([parsePublish('8080:80')], [], false, new Set(['8080/tcp'])),
    /Bind for 0.0.0.0:8080 failed: port is already allocated/,
  );
  assert.throws(
    () => resolvePorts([parsePublish('8080:80'), parsePublish('8080:81')], [], false, new Set()),
    /port is already allocated/,
  );
  const full = new Set(Array.from({ length: 60999 - 32768 + 1 }, (_, i) => `${32768 + i}/tcp`));
  assert.throws(() => resolvePorts([parsePublish('80')], [], false, full), /no free host port left/);
  assert.throws(() => exposedRequests(['80/sctp']), /invalid protocol "sctp"/);
});

test('formatPortLines: docker port output, all or one', () => {
  const b = [
    { protocol: 'udp' as const, containerPort: 53, hostPort: 32768 },
    { protocol: 'tcp' as const, containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1' },
    { protocol: 'tcp' as const, containerPort: 53, hostPort: 32769 },
  ];
  assert.deepEqual(formatPortLines(b), [
    '53/tcp -> 0.0.0.0:32769',
    '53/udp -> 0.0.0.0:32768',
    '80/tcp -> 127.0.0.1:8080',
  ]);
  assert.deepEqual(formatPortLines(b, '53/udp'), ['0.0.0.0:32768']);
  assert.deepEqual(formatPortLines(b, '81/tcp'), []);
});

test('listeningPorts: TCP in LISTEN and bound UDP from /proc/net texts', () => {
  const head =
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
  const tcp = [
    `${head}\n   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n` +
      `   1: 0100007F:8000 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2\n`,
    `${head}\n   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0 0 0 0 0 3\n`,
  ];
  const udp = [
    `${head}\n   0: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 4\n`,
    '',
  ];
  assert.deepEqual([...listeningPorts(tcp, udp)].sort(), ['53/udp', '80/tcp', '8080/tcp']);
});
