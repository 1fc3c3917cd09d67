// The return path's pure parts: marks, the `<prefix>_return` golden file, parsing `ip -j`, and the
// plan from observed to desired rules and routes (ownership: only our priority and table range).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assertOnlyTable } from './apply.js';
import { MASQUERADE_MARK } from './model.js';
import {
  desiredReturnRoutes,
  isOwnRule,
  parseRoutes,
  parseRules,
  planReturnRouting,
  renderReturnTable,
  RETURN_RULE_PRIORITY,
  returnMark,
  type ObservedRouting,
} from './return-path.js';

const GOLDEN = fileURLToPath(new URL('../../ingress/testdata/return-three-sandboxes.nft', import.meta.url));
const SANDBOXES = [{ ip: '10.255.1.7' }, { ip: '10.255.0.2' }, { ip: '10.255.0.3' }, { ip: '10.255.0.2' }];

test('golden: the return table of a task with three ingress sandboxes (one listed twice)', () => {
  const table = renderReturnTable({ prefix: 'swl', sandboxes: SANDBOXES });
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, table.text);
  assert.equal(table.text, readFileSync(GOLDEN, 'utf8'), 'return-three-sandboxes.nft differs');
  assert.equal(table.name, 'swl_return');
  assertOnlyTable(table);
  // Order does not matter.
  assert.equal(renderReturnTable({ prefix: 'swl', sandboxes: [...SANDBOXES].reverse() }).text, table.text);
  // No sandbox yet: a valid table with an empty map.
  assert.match(renderReturnTable({ prefix: 'swl', sandboxes: [] }).text, /type ether_addr : mark\n\t\}/);
});

test('marks: 0x10000 | the host part within the /16, clear of the masquerade bit', () => {
  assert.equal(returnMark('10.255.0.2'), 0x10002);
  assert.equal(returnMark('10.255.1.7'), 0x10107);
  assert.equal(returnMark('10.255.255.254'), 0x1fffe);
  for (const ip of ['10.255.0.2', '10.255.128.1', '10.255.255.254'])
    assert.equal(returnMark(ip) & MASQUERADE_MARK, 0);
  assert.throws(
    () => renderReturnTable({ prefix: 'swl', sandboxes: [{ ip: '10.254.0.2' }, { ip: '10.255.0.2' }] }),
    /10\.254\.0\.2 and 10\.255\.0\.2 share return mark 0x00010002: the ingress subnet must be a \/16 or smaller/,
  );
  assert.throws(
    () => renderReturnTable({ prefix: 'swl', sandboxes: [{ ip: '10.255.0.300' }] }),
    /sandbox address/,
  );
  assert.throws(
    () => desiredReturnRoutes({ sandboxes: [], device: 'eth0; reboot' }),
    /not an interface name/,
  );
});

// What `ip -4 -j rule show` / `route show table all` print (captured on this kernel), plus others'.
const RULES = JSON.stringify([
  { priority: 0, src: 'all', table: 'local' },
  { priority: 100, src: 'all', fwmark: '0x10002', table: '65538' }, // someone else's priority
  { priority: RETURN_RULE_PRIORITY, src: 'all', fwmark: '0x10002', table: '65538' },
  { priority: RETURN_RULE_PRIORITY, src: 'all', fwmark: '0x10009', table: '65545' }, // stale
  { priority: RETURN_RULE_PRIORITY, src: 'all', fwmark: '0x10002', table: '65538' }, // duplicate
  { priority: RETURN_RULE_PRIORITY, src: 'all', fwmark: '0x4000', fwmask: '0x4000', table: '100' },
  { priority: RETURN_RULE_PRIORITY, src: 'all', fwmark: '0x10003', fwmask: '0xffff', table: '65539' },
  { priority: 32766, src: 'all', table: 'main' },
  { priority: 32767, src: 'all', table: 'default' },
]);
const ROUTES = JSON.stringify([
  { dst: 'default', gateway: '10.255.0.2', dev: 'eth1', table: '65538', flags: [] },
  { dst: 'default', gateway: '10.255.0.9', dev: 'eth1', table: '65545', flags: [] },
  { dst: 'default', gateway: '172.18.0.1', dev: 'eth0', flags: [] },
  { dst: '10.1.0.0/24', dev: 'eth2', table: '100', flags: [] },
  { type: 'local', dst: '10.255.0.11', dev: 'eth1', table: 'local', flags: [] },
]);

test('parsing ip -j: numeric tables only, and routes only of our table range', () => {
  const rules = parseRules(RULES);
  assert.deepEqual(rules[0], { priority: 0 });
  assert.deepEqual(rules[2], { priority: RETURN_RULE_PRIORITY, fwmark: 0x10002, table: 65538 });
  assert.deepEqual(
    rules.map((r) => isOwnRule(r)),
    [false, false, true, true, true, false, false, false, false],
  );
  assert.deepEqual(parseRoutes(ROUTES), [
    { table: 65538, dst: 'default', gateway: '10.255.0.2', dev: 'eth1' },
    { table: 65545, dst: 'default', gateway: '10.255.0.9', dev: 'eth1' },
  ]);
  assert.deepEqual(parseRules(''), []);
});

const want = desiredReturnRoutes({ sandboxes: [{ ip: '10.255.0.3' }, { ip: '10.255.0.2' }], device: 'eth1' });
const none: ObservedRouting = { rules: parseRules(RULES).filter((r) => !isOwnRule(r)), routes: [] };

test('plan from nothing: routes before rules', () => {
  assert.deepEqual(planReturnRouting(want, none), [
    ['route', 'replace', 'default', 'via', '10.255.0.2', 'dev', 'eth1', 'table', '65538'],
    ['route', 'replace', 'default', 'via', '10.255.0.3', 'dev', 'eth1', 'table', '65539'],
    ['rule', 'add', 'priority', '32000', 'fwmark', '0x00010002', 'table', '65538'],
    ['rule', 'add', 'priority', '32000', 'fwmark', '0x00010003', 'table', '65539'],
  ]);
});

test('plan from a mixed namespace: fixes ours, drops stale and duplicate ones, never names others', () => {
  const observed: ObservedRouting = { rules: parseRules(RULES), routes: parseRoutes(ROUTES) };
  const plan = planReturnRouting(want, observed);
  assert.deepEqual(plan, [
    ['route', 'replace', 'default', 'via', '10.255.0.3', 'dev', 'eth1', 'table', '65539'],
    ['rule', 'del', 'priority', '32000', 'fwmark', '0x00010009', 'table', '65545'],
    ['rule', 'del', 'priority', '32000', 'fwmark', '0x00010002', 'table', '65538'],
    ['rule', 'add', 'priority', '32000', 'fwmark', '0x00010003', 'table', '65539'],
    ['route', 'flush', 'table', '65545'],
  ]);
  for (const c of plan) assert.ok(!c.includes('100') && !c.includes('main'), c.join(' '));
});

test('plan when in step: nothing; a moved gateway or a stray route in our table is corrected', () => {
  const inStep: ObservedRouting = {
    rules: [
      ...none.rules,
      ...want.map((w) => ({ priority: RETURN_RULE_PRIORITY, fwmark: w.mark, table: w.mark })),
    ],
    routes: want.map((w) => ({ table: w.mark, dst: 'default', gateway: w.gateway, dev: w.device })),
  };
  assert.deepEqual(planReturnRouting(want, inStep), []);
  const drifted: ObservedRouting = {
    ...inStep,
    routes: [
      { table: 0x10002, dst: 'default', gateway: '10.255.0.99', dev: 'eth1' },
      { table: 0x10003, dst: 'default', gateway: '10.255.0.3', dev: 'eth1' },
      { table: 0x10003, dst: '10.9.0.0/16', dev: 'eth1' },
    ],
  };
  assert.deepEqual(planReturnRouting(want, drifted), [
    ['route', 'replace', 'default', 'via', '10.255.0.2', 'dev', 'eth1', 'table', '65538'],
    ['route', 'del', '10.9.0.0/16', 'table', '65539'],
  ]);
  // Removing everything: rules first, then their tables.
  assert.deepEqual(planReturnRouting([], inStep), [
    ['rule', 'del', 'priority', '32000', 'fwmark', '0x00010002', 'table', '65538'],
    ['rule', 'del', 'priority', '32000', 'fwmark', '0x00010003', 'table', '65539'],
    ['route', 'flush', 'table', '65538'],
    ['route', 'flush', 'table', '65539'],
  ]);
});
