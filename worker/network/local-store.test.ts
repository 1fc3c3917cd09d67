import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalNetworkStore, networkRecordProblem, type LocalNetworkRecord } from './local-store.js';

const record = (id: string, name: string): LocalNetworkRecord => ({
  id,
  name,
  driver: 'bridge',
  subnets: [{ subnet: '172.19.0.0/16', gateway: '172.19.0.1', ipRange: '172.19.5.0/24' }],
  internal: false,
  options: { 'com.docker.network.driver.mtu': '1400' },
  created: '2026-12-07T11:00:00Z',
});

test('local network store: saved whole, read back, bad files reported and skipped', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-netstore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new LocalNetworkStore(join(dir, 'networks'));
  assert.deepEqual(store.load(), { records: [], problems: [] });
  const a = record('a'.repeat(64), 'appnet');
  store.save(a);
  store.save({ ...a, internal: true });
  store.save(record('b'.repeat(64), 'other'));
  writeFileSync(join(dir, 'networks', `${'c'.repeat(64)}.json`), '{"id": 1}');
  writeFileSync(join(dir, 'networks', `${'d'.repeat(64)}.json`), JSON.stringify(record('e'.repeat(64), 'x')));
  writeFileSync(join(dir, 'networks', `${'f'.repeat(64)}.json.tmp`), 'torn');
  const { records, problems } = store.load();
  assert.deepEqual(records, [{ ...a, internal: true }, record('b'.repeat(64), 'other')]);
  assert.deepEqual(problems, [
    `${'c'.repeat(64)}.json: bad id`,
    `${'d'.repeat(64)}.json: its id is not its name`,
  ]);
  assert.ok(!readdirSync(join(dir, 'networks')).some((f) => f.endsWith('.tmp')));
  store.delete('b'.repeat(64));
  store.delete('b'.repeat(64));
  assert.deepEqual(
    store.load().records.map((r) => r.name),
    ['appnet'],
  );
  assert.throws(() => store.save({ ...a, id: '../x' }), /invalid network id/);
});

test('networkRecordProblem names the first bad field', () => {
  const ok = record('a'.repeat(64), 'n');
  const rows: [unknown, string | undefined][] = [
    [ok, undefined],
    [[], 'not an object'],
    [{ ...ok, name: '' }, 'bad name'],
    [{ ...ok, driver: 3 }, 'bad driver'],
    [{ ...ok, internal: 'no' }, 'bad internal'],
    [{ ...ok, mtu: -1 }, 'bad mtu'],
    [{ ...ok, options: { a: 1 } }, 'bad options'],
    [{ ...ok, subnets: [{ subnet: '10.0.0.0/24' }] }, 'bad subnet'],
    [{ ...ok, subnets: 'x' }, 'bad subnets'],
  ];
  for (const [value, want] of rows) assert.equal(networkRecordProblem(value), want, JSON.stringify(value));
});
