// The layering rule of eslint.config.js is a lint error, not a convention: each import below breaks it
// and must be reported; the allowed ones must not be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import { packageRoot } from '../lib/repo.js';

const eslint = new ESLint({ cwd: packageRoot() });

async function restricted(filePath: string, spec: string): Promise<boolean> {
  const [result] = await eslint.lintText(`import { x } from '${spec}';\nexport const y = x;\n`, { filePath });
  return result!.messages.some((m) => m.ruleId === 'no-restricted-imports');
}

test('imports that go up or reach into manager/ are lint errors', async () => {
  const broken: [string, string][] = [
    ['worker/agent/x.ts', '../../manager/store/index.js'],
    ['ingress/x.ts', '../daemon/options.js'],
    ['dns/x.ts', '../cli/main.js'],
    ['cli/x.ts', '../manager/index.js'],
    ['cli/x.ts', '../deploy/lab/lab.js'],
    ['deploy/lab/x.ts', '../../cli/main.js'],
    ['daemon/x.ts', '../manager/raft/node/raft-node.js'],
    ['test/e2e/x.test.ts', '../../manager/ca/credentials.js'],
    ['api/x.ts', '../worker/agent/agent.js'],
    ['lib/x.ts', '../api/objects/index.js'],
    ['manager/store/x.ts', '../../daemon/options.js'],
    // Nothing outside manager/ and daemon/ imports from manager/: not tests, not benchmarks, not
    // through manager/index.ts, and no folder the rule does not name.
    ['test/e2e/x.test.ts', '../../manager/index.js'],
    ['test/x.test.ts', '../manager/store/index.js'],
    ['test/fuzz/x.test.ts', '../../manager/raft/storage/codec.js'],
    ['bench/x.ts', '../manager/allocator/state.js'],
    ['bench/scheduler/x.ts', '../../manager/index.js'],
    ['tools/x.ts', '../manager/index.js'],
    // manager/testing.ts is for daemon/control-plane only, and it enters no further.
    ['daemon/x.ts', '../manager/testing.js'],
    ['daemon/control-plane/x.ts', '../../manager/store/index.js'],
  ];
  for (const [file, spec] of broken)
    assert.equal(await restricted(file, spec), true, `${file} importing ${spec} must fail the lint`);
});

test('imports that go down are allowed', async () => {
  const fine: [string, string][] = [
    ['daemon/x.ts', '../manager/index.js'],
    ['worker/agent/x.ts', '../../api/objects/index.js'],
    ['cli/x.ts', '../daemon/client.js'],
    ['manager/store/x.ts', '../../lib/ipv4.js'],
    ['test/e2e/x.test.ts', '../../deploy/lab/lab.js'],
    ['test/e2e/x.test.ts', '../../daemon/swarm-credentials.js'],
    ['bench/x.ts', '../deploy/lab/lab.js'],
    ['daemon/control-plane/x.ts', '../../manager/testing.js'],
    ['daemon/control-plane/x.ts', '../../manager/index.js'],
    ['manager/raft/kv/x.bench.ts', '../node/open.js'],
  ];
  for (const [file, spec] of fine)
    assert.equal(await restricted(file, spec), false, `${file} importing ${spec} must pass the lint`);
});
