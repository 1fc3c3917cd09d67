// Table tests of the node's session state machine: from a state, a sequence of events, the actions
// planned for each and where the state ends up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  initialSessionState,
  RETRY_MAX_MS,
  RETRY_MIN_MS,
  stepSession,
  type SessionAction,
  type SessionEvent,
  type SessionState,
} from './session-plan.js';

const A = '198.18.0.11:2377';
const B = '198.18.0.12:2377';
const C = '198.18.0.13:2377';

const message = (
  sessionId: string,
  managers: [string, boolean][] = [],
  heartbeatPeriodMs = 1_000,
): SessionEvent => ({
  type: 'message',
  msg: { sessionId, heartbeatPeriodMs, managers: managers.map(([addr, leader]) => ({ addr, leader })) },
});

/** Runs the events in order; returns each step's actions and the final state. */
function run(
  state: SessionState,
  events: SessionEvent[],
): { actions: SessionAction[][]; state: SessionState } {
  const actions: SessionAction[][] = [];
  for (const e of events) {
    const out = stepSession(state, e);
    actions.push(out.actions);
    state = out.state;
  }
  return { actions, state };
}

const cases: {
  name: string;
  managers: string[];
  events: SessionEvent[];
  actions: SessionAction[][];
  end?: Partial<SessionState>;
}[] = [
  {
    name: 'the first message establishes the session: connected, streams opened, heartbeat armed',
    managers: [A, B],
    events: [
      { type: 'connect' },
      message(
        's1',
        [
          [B, true],
          [A, false],
        ],
        500,
      ),
    ],
    actions: [
      [{ type: 'dial', addr: A }],
      [
        { type: 'connected', addr: A },
        { type: 'open-streams', sessionId: 's1' },
        { type: 'heartbeat-every', periodMs: 500 },
      ],
    ],
    end: { current: A, sessionId: 's1', managers: [B, A], next: 0 },
  },
  {
    name: 'a later message with the same session only re-arms the heartbeat; an empty manager list keeps the known one',
    managers: [A, B],
    events: [{ type: 'connect' }, message('s1', [[A, true]]), message('s1', [], 0)],
    actions: [
      [{ type: 'dial', addr: A }],
      [
        { type: 'connected', addr: A },
        { type: 'open-streams', sessionId: 's1' },
        { type: 'heartbeat-every', periodMs: 1_000 },
      ],
      [{ type: 'heartbeat-every', periodMs: 1_000 }],
    ],
    end: { managers: [A] },
  },
  {
    name: 'a new session id on the same stream reopens the assignment and work streams',
    managers: [A],
    events: [{ type: 'connect' }, message('s1'), message('s2')],
    actions: [
      [{ type: 'dial', addr: A }],
      [
        { type: 'connected', addr: A },
        { type: 'open-streams', sessionId: 's1' },
        { type: 'heartbeat-every', periodMs: 1_000 },
      ],
      [
        { type: 'open-streams', sessionId: 's2' },
        { type: 'heartbeat-every', periodMs: 1_000 },
      ],
    ],
  },
  {
    name: 'a follower naming the leader: the next attempt goes there, without backoff',
    managers: [A, B, C],
    events: [{ type: 'connect' }, { type: 'failed', code: 'not-leader', leader: C }, { type: 'connect' }],
    actions: [
      [{ type: 'dial', addr: A }],
      [{ type: 'teardown' }, { type: 'connect-in', delayMs: RETRY_MIN_MS }],
      [{ type: 'dial', addr: C }],
    ],
    end: { preferred: undefined, next: 1 },
  },
  {
    name: 'failures walk the list with doubling delays, capped',
    managers: [A, B],
    events: [
      { type: 'connect' },
      { type: 'failed', code: 'other' },
      { type: 'connect' },
      { type: 'lost' },
      { type: 'connect' },
      { type: 'lost' },
      { type: 'connect' },
      { type: 'lost' },
    ],
    actions: [
      [{ type: 'dial', addr: A }],
      [{ type: 'teardown' }, { type: 'connect-in', delayMs: RETRY_MIN_MS }],
      [{ type: 'dial', addr: B }],
      [{ type: 'teardown' }, { type: 'connect-in', delayMs: RETRY_MIN_MS * 2 }],
      [{ type: 'dial', addr: A }],
      [{ type: 'teardown' }, { type: 'connect-in', delayMs: RETRY_MIN_MS * 4 }],
      [{ type: 'dial', addr: B }],
      [{ type: 'teardown' }, { type: 'connect-in', delayMs: RETRY_MAX_MS }],
    ],
  },
  {
    name: 'losing an established session reports the disconnect; the next session resets the backoff',
    managers: [A, B],
    events: [
      { type: 'connect' },
      message('s1', [
        [A, true],
        [B, false],
      ]),
      { type: 'lost' },
      { type: 'connect' },
      message('s2'),
    ],
    actions: [
      [{ type: 'dial', addr: A }],
      [
        { type: 'connected', addr: A },
        { type: 'open-streams', sessionId: 's1' },
        { type: 'heartbeat-every', periodMs: 1_000 },
      ],
      [
        { type: 'teardown', disconnected: A },
        { type: 'connect-in', delayMs: RETRY_MIN_MS },
      ],
      [{ type: 'dial', addr: A }],
      [
        { type: 'connected', addr: A },
        { type: 'open-streams', sessionId: 's2' },
        { type: 'heartbeat-every', periodMs: 1_000 },
      ],
    ],
    end: { retryMs: RETRY_MIN_MS, current: A },
  },
  {
    name: 'removed from the swarm: the session stops for good',
    managers: [A],
    events: [{ type: 'connect' }, message('s1'), { type: 'failed', code: 'removed' }, { type: 'connect' }],
    actions: [
      [{ type: 'dial', addr: A }],
      [
        { type: 'connected', addr: A },
        { type: 'open-streams', sessionId: 's1' },
        { type: 'heartbeat-every', periodMs: 1_000 },
      ],
      [{ type: 'teardown', disconnected: A }, { type: 'removed' }],
      [],
    ],
    end: { stopped: true, current: undefined, sessionId: '' },
  },
  {
    name: 'no manager known: said once per attempt, and retried',
    managers: [],
    events: [{ type: 'connect' }],
    actions: [[{ type: 'no-manager' }, { type: 'teardown' }, { type: 'connect-in', delayMs: RETRY_MIN_MS }]],
  },
  {
    name: 'stopped: a pending retry dials nothing, a late message changes nothing',
    managers: [A],
    events: [{ type: 'connect' }, { type: 'stop' }, { type: 'connect' }, message('s1'), { type: 'lost' }],
    actions: [[{ type: 'dial', addr: A }], [{ type: 'teardown' }], [], [], [{ type: 'teardown' }]],
    end: { stopped: true, current: undefined },
  },
];

for (const c of cases) {
  test(`agent session: ${c.name}`, () => {
    const { actions, state } = run(initialSessionState(c.managers), c.events);
    assert.deepEqual(actions, c.actions);
    for (const [key, value] of Object.entries(c.end ?? {})) {
      assert.deepEqual(state[key as keyof SessionState], value, key);
    }
  });
}
