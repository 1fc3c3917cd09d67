import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConstraintError, matchesConstraints, parseConstraints, type Constraint } from './constraints.js';
import { node } from './objects/test-fixtures.js';

function parsed(exprs: string[]): Constraint[] {
  const r = parseConstraints(exprs);
  if (r instanceof ConstraintError) assert.fail(r.message);
  return r;
}

test('parseConstraints: valid expressions, whitespace and key case tolerated', () => {
  const cases: [string, Partial<Constraint>][] = [
    ['node.id==abc123', { field: 'id', operator: '==', value: 'abc123', label: '' }],
    ['node.hostname != web-2', { field: 'hostname', operator: '!=', value: 'web-2' }],
    ['  NODE.Role==Manager ', { field: 'role', operator: '==', value: 'Manager' }],
    ['node.platform.os==linux', { field: 'platform.os', value: 'linux' }],
    ['node.platform.arch!=arm64', { field: 'platform.arch', operator: '!=' }],
    ['node.labels.zone==eu-west-1', { field: 'label', label: 'zone', value: 'eu-west-1' }],
    ['Node.Labels.Com.Example.Disk != ssd', { field: 'label', label: 'Com.Example.Disk', value: 'ssd' }],
    ['node.labels.owner==team a', { field: 'label', label: 'owner', value: 'team a' }],
  ];
  for (const [expr, want] of cases) {
    const [c] = parsed([expr]);
    assert.ok(c, expr);
    for (const [k, v] of Object.entries(want)) assert.equal(c[k as keyof Constraint], v, `${expr}: ${k}`);
    assert.equal(c.expression, expr);
  }
  assert.deepEqual(parsed([]), []);
});

test('parseConstraints: invalid expressions give a clear error naming the expression and index', () => {
  const cases: [string, RegExp][] = [
    ['node.labels.zone', /expected an operator, == or !=/],
    ['node.role=manager', /a single = is not an operator/],
    ['==manager', /attribute before the operator is empty/],
    ['node.id==', /value after the operator is empty/],
    ['node.id ==   ', /value after the operator is empty/],
    ['node.role===manager', /holds an operator character/],
    ['node.labels.a==b==c', /holds an operator character/],
    ['node.labels.a==b!=c', /holds an operator character/],
    ['node.labels.==x', /label name "" is empty or malformed/],
    ['node.labels.a b==x', /label name "a b" is empty or malformed/],
    ['node.color==red', /unknown attribute "node.color"; expected node.id, node.hostname/],
    ['hostname==x', /unknown attribute "hostname"/],
    ['engine.labels.os==ubuntu', /engine labels are not supported/],
    ['node.role==boss', /node.role must be manager or worker/],
  ];
  for (const [expr, want] of cases) {
    const r = parseConstraints(['node.id==ok', expr]);
    assert.ok(r instanceof ConstraintError, `${expr} should be refused`);
    assert.equal(r.expression, expr);
    assert.equal(r.index, 1);
    assert.match(r.message, want, expr);
    assert.ok(r.message.startsWith(`invalid constraint ${JSON.stringify(expr)}: `), r.message);
  }
});

test('matchesConstraints: each attribute, both operators', () => {
  const n = node('n1', {
    hostname: 'web-1',
    role: 'manager',
    labels: { zone: 'eu', Disk: 'SSD' },
    os: 'linux',
    arch: 'aarch64',
  });
  const yes = [
    'node.id==n1',
    'node.id!=n2',
    'node.hostname==web-1',
    'node.hostname!=web-2',
    'node.role==manager',
    'node.role!=worker',
    'node.platform.os==linux',
    'node.platform.arch==aarch64',
    'node.labels.zone==eu',
    'node.labels.zone!=us',
    'node.labels.missing!=x', // an absent label reads as '': != matches it
    'node.labels.Disk==SSD',
  ];
  const no = [
    'node.id==n2',
    'node.hostname==web-2',
    'node.role==worker',
    'node.platform.arch==x86_64',
    'node.labels.zone==us',
    'node.labels.zone!=eu',
    'node.labels.missing==x',
    'node.labels.disk==SSD', // label names are case-sensitive
  ];
  for (const e of yes) assert.equal(matchesConstraints(n, parsed([e])), true, e);
  for (const e of no) assert.equal(matchesConstraints(n, parsed([e])), false, e);
});

test('matchesConstraints: values compare case-insensitively, as in Docker', () => {
  const n = node('AbC', { hostname: 'Web-1', labels: { disk: 'SSD' } });
  assert.equal(matchesConstraints(n, parsed(['node.labels.disk==ssd'])), true);
  assert.equal(matchesConstraints(n, parsed(['node.hostname==WEB-1'])), true);
  assert.equal(matchesConstraints(n, parsed(['node.id==abc'])), true);
  assert.equal(matchesConstraints(n, parsed(['node.labels.disk!=ssd'])), false);
});

test('matchesConstraints: every constraint must hold (AND); an empty list matches', () => {
  const n = node('n1', { labels: { zone: 'eu', tier: 'web' } });
  assert.equal(matchesConstraints(n, []), true);
  assert.equal(matchesConstraints(n, parsed(['node.labels.zone==eu', 'node.labels.tier==web'])), true);
  assert.equal(matchesConstraints(n, parsed(['node.labels.zone==eu', 'node.labels.tier==db'])), false);
});

test('matchesConstraints: a label named like an Object.prototype member is just absent', () => {
  const n = node('n1');
  assert.equal(matchesConstraints(n, parsed(['node.labels.constructor==x'])), false);
  assert.equal(matchesConstraints(n, parsed(['node.labels.toString!=x'])), true);
});
