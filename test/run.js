#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's built-in test runner.
// Unit tests sit beside the code; e2e tests live under test/e2e. Test files run as separate
// processes, several at once: the e2e tests each build their own uniquely named lab.
// Usage: node test/run.js [substring filter ...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

// The runner starts files in the order given. The lab tests (up to two minutes each) go first and the
// short unit files fill in behind them, so both slots finish near the same time instead of one lab
// test running on alone at the end (longest first: the usual rule for packing jobs on N workers).
const HEAVY_FIRST = ['/test/e2e/', '/test/chaos/', '/manager/raft/sim/', '/cli/'];
function weight(file) {
  const i = HEAVY_FIRST.findIndex((dir) => file.includes(dir));
  return i < 0 ? 0 : HEAVY_FIRST.length - i;
}

const filters = process.argv.slice(2);
const distDir = process.env.SWARMLITE_DIST ?? 'dist';
const files = collect(distDir, [])
  .filter((f) => !f.includes('/node_modules/'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort((a, b) => weight(b) - weight(a) || a.localeCompare(b));
if (files.length === 0) {
  console.error('test/run.js: no compiled test files matched (did `npm run build` run?)');
  process.exit(1);
}
// Two files at once: each e2e file runs a lab of several daemons, and on a 2-core machine a third lab
// beside them starved the others into timeouts (CI shares two cores).
const concurrency = process.env.SWARMLITE_TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
