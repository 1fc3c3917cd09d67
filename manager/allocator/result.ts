// What every allocation returns. Failures are values, never exceptions: the orchestrator leaves the task
// pending with `reason.message` in its status.err (what `service ps` shows), the control API turns
// `invalid`/`conflict` into a user error at create time.

export type FailureKind =
  /** The input is malformed (the control API should have rejected it up front). */
  | 'invalid'
  /** The input is well formed but collides with another object's allocation. */
  | 'conflict'
  /** A pool ran out; `pool` names it (a CIDR, "vni", "ports 30000-32767/tcp", ...). */
  | 'exhausted'
  /** The object refers to something the allocator does not know (a network not allocated yet). */
  | 'missing'
  /** A release was refused because other objects still hold addresses from it. */
  | 'in-use';

export interface AllocFailure {
  kind: FailureKind;
  message: string;
  /** Only for `exhausted`: what ran out. */
  pool?: string;
}

export type AllocResult<T> = { ok: true; value: T } | { ok: false; reason: AllocFailure };

export const ok = <T>(value: T): AllocResult<T> => ({ ok: true, value });

export const fail = (kind: FailureKind, message: string): { ok: false; reason: AllocFailure } => ({
  ok: false,
  reason: { kind, message },
});

export const exhausted = (pool: string, message: string): { ok: false; reason: AllocFailure } => ({
  ok: false,
  reason: { kind: 'exhausted', message, pool },
});
