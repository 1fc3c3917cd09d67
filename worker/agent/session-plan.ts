// The node's session with the dispatcher as a pure state machine: which manager to dial next, what a
// session message changes, how failures are retried, and when the swarm has removed this node.
// DispatcherSession (session.ts) is its shell: it feeds in what its gRPC streams and timers report
// and carries out the actions. Only the leader runs a dispatcher; a follower answers
// FAILED_PRECONDITION naming the leader, which is where the next attempt goes.

export const RETRY_MIN_MS = 100;
// Short: after a leader change every node must find the new leader within the dispatcher's grace
// (1.5 heartbeat periods), and a refused connection to a dead manager costs next to nothing.
export const RETRY_MAX_MS = 500;
const DEFAULT_HEARTBEAT_MS = 1_000;

export interface SessionState {
  /** Managers to try, in order; replaced (leader first) by every session message that lists them. */
  managers: readonly string[];
  next: number;
  /** Where a follower said the leader is: tried before the list. */
  preferred?: string;
  retryMs: number;
  stopped: boolean;
  /** The manager of the attempt under way. */
  dialing?: string;
  /** The manager a session is established with (its first message arrived). */
  current?: string;
  sessionId: string;
}

export const initialSessionState = (managers: readonly string[]): SessionState => ({
  managers: [...managers],
  next: 0,
  retryMs: RETRY_MIN_MS,
  stopped: false,
  sessionId: '',
});

export interface SessionMessageView {
  sessionId: string;
  heartbeatPeriodMs: number;
  managers: readonly { addr: string; leader: boolean }[];
}

export type SessionEvent =
  /** start(), or the retry delay elapsed. */
  | { type: 'connect' }
  | { type: 'message'; msg: SessionMessageView }
  /** The session stream failed: its gRPC status, details, and the leader a follower named. */
  | { type: 'failed'; code: 'removed' | 'not-leader' | 'other'; leader?: string }
  /** The session stream ended, the assignments stream was lost, or a heartbeat failed. */
  | { type: 'lost' }
  | { type: 'stop' };

export type SessionAction =
  | { type: 'dial'; addr: string }
  | { type: 'no-manager' }
  /** Drop the client, streams and heartbeat; `disconnected` names the manager a session was with. */
  | { type: 'teardown'; disconnected?: string }
  | { type: 'connect-in'; delayMs: number }
  | { type: 'connected'; addr: string }
  | { type: 'open-streams'; sessionId: string }
  | { type: 'heartbeat-every'; periodMs: number }
  | { type: 'removed' };

export interface SessionStep {
  state: SessionState;
  actions: SessionAction[];
}

export function stepSession(state: SessionState, event: SessionEvent): SessionStep {
  switch (event.type) {
    case 'connect':
      return connect(state);
    case 'message':
      return onMessage(state, event.msg);
    case 'failed':
      if (event.code === 'removed') {
        const stopped = teardown({ ...state, stopped: true });
        return { state: stopped.state, actions: [...stopped.actions, { type: 'removed' }] };
      }
      if (event.code === 'not-leader' && event.leader) {
        return retryLater({ ...state, preferred: event.leader, retryMs: RETRY_MIN_MS });
      }
      return retryLater(state);
    case 'lost':
      return retryLater(state);
    case 'stop':
      return teardown({ ...state, stopped: true });
  }
}

function connect(state: SessionState): SessionStep {
  if (state.stopped) return { state, actions: [] };
  let addr: string | undefined;
  let { next } = state;
  if (state.preferred) addr = state.preferred;
  else if (state.managers.length > 0) addr = state.managers[next++ % state.managers.length];
  if (!addr) {
    const retry = retryLater(state);
    return { state: retry.state, actions: [{ type: 'no-manager' }, ...retry.actions] };
  }
  return {
    state: { ...state, next, preferred: undefined, dialing: addr, sessionId: '' },
    actions: [{ type: 'dial', addr }],
  };
}

function onMessage(state: SessionState, msg: SessionMessageView): SessionStep {
  if (state.stopped || !state.dialing) return { state, actions: [] };
  const actions: SessionAction[] = [];
  let next = { ...state };
  if (!state.sessionId) {
    next = { ...next, current: state.dialing, retryMs: RETRY_MIN_MS };
    actions.push({ type: 'connected', addr: state.dialing });
  }
  if (msg.sessionId !== state.sessionId) actions.push({ type: 'open-streams', sessionId: msg.sessionId });
  next.sessionId = msg.sessionId;
  if (msg.managers.length > 0) {
    // The leader first: that is where the session belongs after a reconnect.
    next.managers = [...msg.managers].sort((a, b) => Number(b.leader) - Number(a.leader)).map((m) => m.addr);
    next.next = 0;
  }
  actions.push({ type: 'heartbeat-every', periodMs: Number(msg.heartbeatPeriodMs) || DEFAULT_HEARTBEAT_MS });
  return { state: next, actions };
}

function teardown(state: SessionState): SessionStep {
  const { current } = state;
  return {
    state: { ...state, current: undefined, dialing: undefined, sessionId: '' },
    actions: [{ type: 'teardown', ...(current ? { disconnected: current } : {}) }],
  };
}

function retryLater(state: SessionState): SessionStep {
  const down = teardown(state);
  if (state.stopped) return down;
  return {
    state: { ...down.state, retryMs: Math.min(state.retryMs * 2, RETRY_MAX_MS) },
    actions: [...down.actions, { type: 'connect-in', delayMs: state.retryMs }],
  };
}
