import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registryDaemonArgs, validateRegistrySpecs, type LabRegistryState } from './registry.js';

test('lab registry specs: names fit a file name, ports are real and distinct, auth has a user', () => {
  validateRegistrySpecs([
    { name: 'private', port: 5443, basicAuth: { user: 'swlt', password: 'x' } },
    { name: 'plain', port: 5000, insecure: true },
  ]);
  const bad: [Parameters<typeof validateRegistrySpecs>[0], RegExp][] = [
    [[{ name: '../x', port: 5000 }], /invalid lab registry name/],
    [[{ name: 'Reg', port: 5000 }], /invalid lab registry name/],
    [[{ name: 'r', port: 0 }], /invalid port/],
    [[{ name: 'r', port: 70000 }], /invalid port/],
    [[{ name: 'r', port: 50.5 }], /invalid port/],
    [
      [
        { name: 'r', port: 5000 },
        { name: 'r', port: 5001 },
      ],
      /two lab registries named/,
    ],
    [
      [
        { name: 'a', port: 5000 },
        { name: 'b', port: 5000 },
      ],
      /two lab registries on port 5000/,
    ],
    [[{ name: 'r', port: 5000, basicAuth: { user: 'a:b', password: 'x' } }], /basic auth/],
    [[{ name: 'r', port: 5000, basicAuth: { user: 'a', password: '' } }], /basic auth/],
  ];
  for (const [specs, error] of bad) assert.throws(() => validateRegistrySpecs(specs), error);
});

test('only plain-HTTP registries are named insecure to the daemons', () => {
  const r = (name: string, address: string, insecure: boolean): LabRegistryState => ({
    name,
    address,
    insecure,
    logFile: '/dev/null',
    process: { pid: 1, startTime: '0' },
  });
  assert.deepEqual(
    registryDaemonArgs([r('private', '198.18.3.250:5443', false), r('plain', '198.18.3.250:5000', true)]),
    ['--insecure-registry', '198.18.3.250:5000'],
  );
  assert.deepEqual(registryDaemonArgs([]), []);
});
