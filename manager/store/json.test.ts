import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepFreeze, frozenJsonCopy, type JsonObject } from './json.js';

function isDeepFrozen(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  return Object.isFrozen(v) && Object.values(v).every(isDeepFrozen);
}

/** What frozenJsonCopy promises: the text JSON.stringify gives, and exactly what JSON.parse makes of it. */
function assertExactCopy(object: JsonObject): JsonObject {
  const copy = frozenJsonCopy(object);
  assert.ok(copy);
  assert.equal(copy.json, JSON.stringify(object));
  // deepStrictEqual compares numbers with Object.is (-0 is not 0); the text compares key order.
  assert.deepStrictEqual(copy.fields, JSON.parse(copy.json));
  assert.equal(JSON.stringify(copy.fields), copy.json);
  assert.ok(isDeepFrozen(copy.fields));
  return copy.fields;
}

test('frozenJsonCopy: the text JSON.stringify gives and a deep-frozen JSON.parse of it, edge cases included', () => {
  const withProtoKey = JSON.parse('{"__proto__":{"polluted":true},"id":"p"}') as JsonObject;
  const cases: JsonObject[] = [
    { id: 'a', spec: { image: 'img', env: ['A=1'] }, n: 1.5, ok: true, none: null },
    { id: 'b', gone: undefined, fn: () => 1, sym: Symbol('s'), arr: [undefined, () => 1, 1] },
    { id: 'c', zero: -0, inf: Infinity, nan: NaN, nested: { z: -0 } },
    { id: 'd', when: new Date(0), inner: { when: new Date(0) } },
    { id: 'e', b: 1, 2: 'two', 1: 'one', big: 1e21, tiny: 5e-324 },
    { id: 'f2', toString: 'shadowed', constructor: { name: 'x' }, hasOwnProperty: 1 },
    { id: 'f', text: 'lone \ud800 surrogate, "quotes", \\ and \n' },
    { id: 'g', keyed: { toJSON: (key: string) => `called with ${key}` } },
    withProtoKey,
  ];
  for (const object of cases) assertExactCopy(object);
  const proto = frozenJsonCopy(withProtoKey)!.fields;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.ok(Object.hasOwn(proto, '__proto__'));
  // An object whose own toJSON makes it something else is copied as what it serializes to.
  assert.equal(frozenJsonCopy({ id: 'h', toJSON: () => [1] }), undefined);
  assert.deepEqual(frozenJsonCopy({ id: 'i', toJSON: () => ({ id: 'j' }) })?.fields, { id: 'j' });
  assert.throws(() => frozenJsonCopy({ id: 'k', big: 1n }), TypeError);
});

test('frozenJsonCopy reuses the fields of an earlier copy instead of serializing and parsing them again', () => {
  // Values are remembered from 128 characters of JSON on; a task's spec is several hundred.
  const spec = {
    image: 'registry.example/team/app:1.2.3',
    env: Array.from({ length: 8 }, (_, i) => `VAR_${i}=value`),
  };
  const first = assertExactCopy({ id: 't', spec, status: { state: 'new' } });
  const second = assertExactCopy({ ...first, status: { state: 'assigned' }, nodeId: 'n1' });
  assert.equal(second.spec, first.spec);
  assert.notEqual(second.status, first.status);
  // Reused under another key, too: the text is the value's, not the key's.
  const moved = assertExactCopy({ id: 'u', template: first.spec, list: [first.spec] });
  assert.equal(moved.template, first.spec);
  // A value equal to an earlier copy but not that copy is serialized as usual.
  const lookalike = assertExactCopy({ id: 'v', spec: structuredClone(spec) });
  assert.notEqual(lookalike.spec, first.spec);
});

test('deepFreeze freezes every level of parsed JSON, own keys only', () => {
  const value = JSON.parse(
    '{"a":[{"b":[1,{"c":{}}]},[]],"__proto__":{"d":{}},"e":{"f":[[{"g":"h"}]]}}',
  ) as JsonObject;
  assert.equal(deepFreeze(value), value);
  assert.ok(isDeepFrozen(value));
  assert.ok(Object.isFrozen((value['__proto__'] as JsonObject).d));
  assert.equal(Object.isFrozen(Object.prototype), false);
});
