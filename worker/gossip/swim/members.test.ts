import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Awareness } from './lifeguard.js';
import { MemberTable } from './members.js';
import { defaultSwimConfig, type MemberEvent, type SwimMessage } from './types.js';

function table() {
  const events: MemberEvent[] = [];
  const broadcasts: SwimMessage[] = [];
  let refutedDeaths = 0;
  const awareness = new Awareness(8);
  const t = new MemberTable('me', 'me:1', defaultSwimConfig, awareness, {
    broadcast: (_node, msg) => broadcasts.push(msg),
    event: (ev) => events.push(ev),
    added: () => undefined,
    refutedDeath: () => refutedDeaths++,
  });
  return { t, events, broadcasts, awareness, refutedDeaths: () => refutedDeaths };
}

const alive = (node: string, inc: number, addr = `${node}:1`): Extract<SwimMessage, { t: 'alive' }> => ({
  t: 'alive',
  node,
  addr,
  inc,
});
const suspect = (node: string, inc: number, from = 'x'): Extract<SwimMessage, { t: 'suspect' }> => ({
  t: 'suspect',
  node,
  inc,
  from,
});
const dead = (node: string, inc: number, from = 'x'): Extract<SwimMessage, { t: 'dead' }> => ({
  t: 'dead',
  node,
  inc,
  from,
});

test('precedence: newer incarnation wins; at equal incarnation dead > suspect > alive', () => {
  const { t, events } = table();
  t.onAlive(alive('a', 1), 0);
  t.onSuspect(suspect('a', 0), 1); // older: ignored
  assert.equal(t.members.get('a')?.state, 'alive');
  t.onSuspect(suspect('a', 1), 2);
  assert.equal(t.members.get('a')?.state, 'suspect');
  t.onAlive(alive('a', 1), 3); // same incarnation cannot clear a suspicion
  assert.equal(t.members.get('a')?.state, 'suspect');
  t.onAlive(alive('a', 2), 4); // the refutation
  assert.equal(t.members.get('a')?.state, 'alive');
  t.onDead(dead('a', 2), 5);
  assert.equal(t.members.get('a')?.state, 'dead');
  t.onSuspect(suspect('a', 2), 6);
  t.onAlive(alive('a', 2), 6);
  assert.equal(t.members.get('a')?.state, 'dead');
  t.onAlive(alive('a', 3, 'a:2'), 7); // back, at a new address
  assert.deepEqual(
    events.map((e) => `${e.type}@${e.incarnation}`),
    ['join@1', 'suspect@1', 'alive@2', 'dead@2', 'join@3'],
  );
  assert.equal(t.members.get('a')?.addr, 'a:2');
  t.onDead(dead('a', 3, 'a'), 8); // its own "dead" is a graceful leave
  assert.equal(t.members.get('a')?.state, 'left');
  assert.equal(events.at(-1)?.type, 'leave');
});

test('news about oneself is refuted with a higher incarnation; a suspicion also raises awareness', () => {
  const { t, broadcasts, awareness, refutedDeaths } = table();
  t.onSuspect(suspect('me', 0), 0);
  assert.equal(t.incarnation, 1);
  assert.equal(awareness.score, 1);
  assert.deepEqual(broadcasts.at(-1), alive('me', 1, 'me:1'));
  t.onDead(dead('me', 1), 1);
  assert.equal(t.incarnation, 2);
  assert.equal(refutedDeaths(), 1);
  t.onSuspect(suspect('me', 0), 2); // stale: nothing to refute
  assert.equal(t.incarnation, 2);
  t.onAlive(alive('me', 7), 3); // a newer incarnation of us from a previous life
  assert.equal(t.incarnation, 8);
  t.leaving = true;
  t.onDead(dead('me', 8), 4);
  assert.equal(t.incarnation, 8, 'a leaving node does not refute');
});

test('a suspicion becomes a death after its timeout, sooner with confirmations', () => {
  const { t } = table();
  for (const id of ['a', 'b', 'c', 'd', 'e']) t.onAlive(alive(id, 0), 0);
  // n = 6: min = 4 s, max = 24 s, k = 2.
  t.onSuspect(suspect('a', 0, 'b'), 1000);
  t.expireSuspicions(24_999);
  assert.equal(t.members.get('a')?.state, 'suspect');
  t.onSuspect(suspect('a', 0, 'c'), 2000);
  t.onSuspect(suspect('a', 0, 'd'), 2000);
  t.expireSuspicions(4_999);
  assert.equal(t.members.get('a')?.state, 'suspect');
  t.expireSuspicions(5_000);
  assert.equal(t.members.get('a')?.state, 'dead');
});

test('push-pull merge: remote dead only makes us suspect, left is taken as is, unknown dead is ignored', () => {
  const { t } = table();
  t.onAlive(alive('a', 0), 0);
  t.onAlive(alive('b', 0), 0);
  t.mergeRemote(
    [
      { id: 'a', addr: 'a:1', inc: 0, state: 'dead' },
      { id: 'b', addr: 'b:1', inc: 0, state: 'left' },
      { id: 'z', addr: 'z:1', inc: 0, state: 'dead' },
      { id: 'c', addr: 'c:1', inc: 4, state: 'alive' },
    ],
    5,
  );
  assert.equal(t.members.get('a')?.state, 'suspect');
  assert.equal(t.members.get('b')?.state, 'left');
  assert.equal(t.members.has('z'), false);
  assert.equal(t.members.get('c')?.incarnation, 4);
});
