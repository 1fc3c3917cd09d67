// The forwarder's pure parts: the in-flight table and TCP framing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InFlight } from './in-flight.js';
import { frame, FrameDecoder, FramingError } from './tcp-framing.js';

test('in flight: unique random ids, a bound, deadlines', () => {
  let next = 0;
  const draws = [7, 7, 7, 9, 70000 + 7];
  const table = new InFlight<string>(3, () => draws[next++]!);
  assert.equal(table.add('a', 100), 7);
  assert.equal(table.add('b', 200), 9); // 7 is taken: drawn again
  assert.equal(table.add('c', 300), (70000 + 7) & 0xffff);
  assert.equal(table.add('d', 400), undefined, 'the bound');
  assert.equal(table.get(9), 'b');
  assert.deepEqual(table.expired(150), [{ id: 7, value: 'a' }]);
  table.setDeadline(7, 500);
  assert.deepEqual(table.expired(150), []);
  assert.equal(table.remove(9), 'b');
  assert.equal(table.remove(9), undefined);
  assert.equal(table.size, 2);
  assert.throws(() => new InFlight(0), /invalid in-flight bound/);
  assert.equal(new InFlight(1e6).max, 0x8000);
});

test('tcp framing: messages split and joined across chunks, a short length refused', () => {
  const a = Buffer.alloc(12, 1);
  const b = Buffer.alloc(300, 2);
  const stream = Buffer.concat([frame(a), frame(b), frame(a)]);
  for (const cut of [1, 2, 3, 13, 14, 15, 200, stream.length - 1]) {
    const d = new FrameDecoder();
    const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    assert.deepEqual(got, [a, b, a], `cut at ${cut}`);
    assert.equal(d.partial, false);
  }
  const d = new FrameDecoder();
  assert.deepEqual(d.push(Buffer.from([0xff, 0xff, 0, 0])), []);
  assert.equal(d.partial, true, 'a huge length waits (bounded by the 16-bit length) for the idle timeout');
  assert.throws(() => new FrameDecoder().push(Buffer.from([0, 5, 1, 2, 3, 4, 5])), FramingError);
  assert.throws(() => new FrameDecoder().push(Buffer.from([0, 0])), /0 bytes cannot hold a header/);
});
