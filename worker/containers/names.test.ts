import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkContainerName,
  findByRef,
  generateName,
  isContainerId,
  newContainerId,
  shortId,
} from './names.js';

test('ids are 64 hex digits with a 12-digit short form', () => {
  const id = newContainerId();
  assert.ok(isContainerId(id), id);
  assert.equal(shortId(id).length, 12);
  assert.notEqual(newContainerId(), id);
});

test("names: Docker's characters, nothing that reads as an id", () => {
  for (const ok of ['web', 'c1', 'my_app.v2-x', 'A']) checkContainerName(ok);
  for (const bad of ['', '-x', '.x', 'a b', 'a/b', 'x'.repeat(129), 'é', 'a'.repeat(64)])
    assert.throws(() => checkContainerName(bad), /invalid container name/, bad);
});

test('generated names: adjective_surname, retried when taken, numbered when that keeps failing', () => {
  let i = 0;
  const seq = (values: number[]) => () => values[i++ % values.length]!;
  const first = generateName(() => false, seq([0, 0]));
  assert.equal(first, 'brave_lamport');
  i = 0;
  const taken = new Set(['brave_lamport', 'calm_liskov']);
  assert.equal(
    generateName((n) => taken.has(n), seq([0, 0, 1, 1, 2, 2])),
    'clever_lynch',
  );
  i = 0;
  // always the same pair: after three tries a digit makes it unique
  assert.equal(
    generateName((n) => n === 'brave_lamport', seq([0])),
    'brave_lamport0',
  );
  assert.match(
    generateName(
      () => false,
      (n) => Math.floor(Math.random() * n),
    ),
    /^[a-z]+_[a-z]+$/,
  );
});

test('findByRef: full id, then name, then a unique id prefix', () => {
  const a = { id: 'ab'.repeat(32), name: 'web' };
  const b = { id: 'ac'.repeat(32), name: 'db' };
  const c = { id: 'ff'.repeat(32), name: 'abab' }; // a name that is also a's id prefix: the name wins
  const all = [a, b, c];
  assert.equal(findByRef(all, a.id), a);
  assert.equal(findByRef(all, 'web'), a);
  assert.equal(findByRef(all, '/db'), b);
  assert.equal(findByRef(all, 'abab'), c);
  assert.equal(findByRef(all, 'aba'), a);
  assert.equal(findByRef(all, 'ff'), c);
  assert.throws(() => findByRef(all, 'a'), /multiple containers found with provided prefix: a/);
  assert.throws(() => findByRef(all, 'nope'), /^Error: No such container: nope$/);
  assert.throws(() => findByRef([], 'ab'), /No such container: ab/);
});
