import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entryCost, LogTailCache } from './log-cache.js';
import { entries } from './testing/fixtures.js';

const indexes = (c: LogTailCache) => c.slice(c.start, c.start + c.length).map((e) => [e.index, e.term]);

describe('LogTailCache', () => {
  it('appends, replaces a suffix, and restarts below its start', () => {
    const c = new LogTailCache(1);
    c.append(entries(1, 5, 1));
    c.append(entries(4, 4, 2));
    assert.deepEqual(indexes(c), [
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
    ]);
    assert.throws(() => c.append(entries(6, 6, 2)), /gap/);
    c.trim(2, Infinity, 10);
    assert.equal(c.start, 3);
    c.append(entries(2, 3, 3)); // below the start: the cache restarts at 2
    assert.deepEqual(indexes(c), [
      [2, 3],
      [3, 3],
    ]);
    assert.equal(c.get(1), undefined);
  });

  it('trims to its bounds but never past what may be dropped, and tracks bytes', () => {
    const c = new LogTailCache(1);
    const ents = entries(1, 3000, 1);
    c.append(ents);
    c.trim(100, Infinity, 2000);
    assert.equal(c.start, 2001, 'entries above droppableThrough stay');
    c.trim(100, Infinity, 5000);
    assert.deepEqual([c.start, c.length], [2901, 100]);
    assert.equal(c.size, entryCost(ents[0]) * 100);
    c.trim(Infinity, entryCost(ents[0]) * 10, 5000);
    assert.deepEqual([c.start, c.length, c.get(2991)?.index], [2991, 10, 2991]);
    c.dropBefore(3001);
    assert.deepEqual([c.start, c.length, c.size], [3001, 0, 0]);
  });
});
