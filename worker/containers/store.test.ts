import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerStore, recordProblem } from './store.js';
import { record } from './lifecycle.test.js';

test('store: records survive a reopen, deletes stick, junk and torn saves are not read as records', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-ctrstore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ContainerStore(join(dir, 'records'));
  assert.deepEqual(store.load(), { records: [], problems: [] });
  const a = record();
  const b = { ...record({ status: 'running', pid: 7 }), id: 'b'.repeat(64), name: 'db' };
  store.save(a);
  store.save(b);
  store.save({ ...a, name: 'web2' });
  writeFileSync(join(store.dir, `${'c'.repeat(64)}.json`), '{"id": "oops"');
  writeFileSync(
    join(store.dir, `${'d'.repeat(64)}.json`),
    JSON.stringify({ ...a, id: 'd'.repeat(64), state: { status: 'dancing' } }),
  );
  writeFileSync(join(store.dir, `${'e'.repeat(64)}.json`), JSON.stringify(a)); // another's record under its name
  writeFileSync(join(store.dir, `${'f'.repeat(64)}.json.tmp`), '{');
  const { records, problems } = new ContainerStore(store.dir).load();
  assert.deepEqual(
    records.map((r) => r.name),
    ['web2', 'db'],
  );
  assert.equal(records[1]!.state.pid, 7);
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems.join('\n'), /cccc.*\.json: .*JSON/);
  assert.match(problems.join('\n'), /dddd.*\.json: bad state/);
  assert.match(problems.join('\n'), /eeee.*\.json: its id is not its name/);
  assert.ok(!readdirSync(store.dir).some((f) => f.endsWith('.tmp')));
  store.delete(b.id);
  assert.deepEqual(
    new ContainerStore(store.dir).load().records.map((r) => r.name),
    ['web2'],
  );
  assert.throws(() => store.save({ ...a, id: '../x' }), /invalid container id/);
});

test('recordProblem names the first bad field', () => {
  const ok = record();
  assert.equal(recordProblem(ok), undefined);
  assert.equal(recordProblem(null), 'not an object');
  assert.equal(recordProblem({ ...ok, id: 'x' }), 'bad id');
  assert.equal(recordProblem({ ...ok, config: { ...ok.config, cmd: [1] } }), 'bad config');
  assert.equal(
    recordProblem({ ...ok, hostConfig: { ...ok.hostConfig, networkMode: '' } }),
    'bad network mode',
  );
  assert.equal(
    recordProblem({ ...ok, hostConfig: { ...ok.hostConfig, portBindings: [{ protocol: 'sctp' }] } }),
    'bad hostConfig.portBindings',
  );
  const settings = {
    networkId: 'n',
    networkName: 'bridge',
    address: '172.17.0.2/16',
    gateway: '172.17.0.1',
    macAddress: '02:42:ac:11:00:02',
    ports: [{ protocol: 'tcp', containerPort: 80, hostPort: 8080 }],
  };
  assert.equal(recordProblem({ ...ok, networkSettings: settings }), undefined);
  assert.equal(
    recordProblem({
      ...ok,
      networkSettings: { ...settings, ports: [{ protocol: 'tcp', containerPort: 0 }] },
    }),
    'bad networkSettings.ports',
  );
  assert.equal(
    recordProblem({ ...ok, networkSettings: { ...settings, address: 1 } }),
    'bad networkSettings.address',
  );
  // Several networks (network connect): each leg checked, its interface, endpoint and aliases too.
  const second = { ...settings, ifName: 'eth1', endpointId: 'e'.repeat(64), aliases: ['db'] };
  assert.equal(recordProblem({ ...ok, networks: [settings, second] }), undefined);
  assert.equal(recordProblem({ ...ok, networks: {} }), 'bad networks');
  assert.equal(
    recordProblem({ ...ok, networks: [settings, { ...second, ifName: '' }] }),
    'bad networks[1].ifName',
  );
  assert.equal(
    recordProblem({ ...ok, networks: [{ ...settings, aliases: [1] }] }),
    'bad networks[0].aliases',
  );
  assert.equal(recordProblem({ ...ok, networks: [null] }), 'bad networks[0]');
  assert.equal(
    recordProblem({
      ...ok,
      hostConfig: { ...ok.hostConfig, restartPolicy: { name: 'x', maximumRetryCount: 0 } },
    }),
    'bad restart policy',
  );
  assert.equal(recordProblem({ ...ok, state: { ...ok.state, pid: -1 } }), 'bad state.pid');
});
