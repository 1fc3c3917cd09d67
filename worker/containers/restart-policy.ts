// Docker's restart policies for standalone containers (`--restart no|always|on-failure[:N]|unless-stopped`)
// and the one decision they drive: once a container's process has ended, is it started again, and after
// how long. Pure, so every case is a row of restart-policy.test.ts.

export const RESTART_POLICY_NAMES = ['no', 'always', 'on-failure', 'unless-stopped'] as const;
export type RestartPolicyName = (typeof RESTART_POLICY_NAMES)[number];

export interface RestartPolicy {
  name: RestartPolicyName;
  /** on-failure only: restarts allowed (0 = no limit), Docker's MaximumRetryCount. */
  maximumRetryCount: number;
}

export const NO_RESTART: RestartPolicy = { name: 'no', maximumRetryCount: 0 };

/** Docker waits 100 ms before the first restart and doubles the wait each time, up to a minute... */
export const FIRST_RESTART_DELAY_MS = 100;
export const MAX_RESTART_DELAY_MS = 60_000;
/** ... and starts again from 100 ms once a run lasted this long (it was healthy for a while). */
export const RESET_RESTART_DELAY_AFTER_MS = 10_000;

/** `--restart` as Docker spells it; the error says what is accepted. */
export function parseRestartPolicy(text: string): RestartPolicy {
  const [name, count, ...rest] = text.split(':');
  const usage = `invalid restart policy '${text}': use no, always, unless-stopped or on-failure[:max-retries]`;
  if (rest.length > 0 || !(RESTART_POLICY_NAMES as readonly string[]).includes(name!)) throw new Error(usage);
  if (count === undefined) return { name: name as RestartPolicyName, maximumRetryCount: 0 };
  if (name !== 'on-failure')
    throw new Error(
      `invalid restart policy '${text}': maximum retry count can only be used with 'on-failure'`,
    );
  if (!/^\d{1,9}$/.test(count)) throw new Error(usage);
  return { name: 'on-failure', maximumRetryCount: Number(count) };
}

/** `on-failure:3`, `always`: the form parseRestartPolicy reads back. */
export function formatRestartPolicy(p: RestartPolicy): string {
  return p.name === 'on-failure' && p.maximumRetryCount > 0 ? `on-failure:${p.maximumRetryCount}` : p.name;
}

export interface EndedRun {
  exitCode: number;
  /** The user stopped it (`stop`, `restart`'s stop, `rm -f`): no policy brings it back by itself. */
  manuallyStopped: boolean;
  /** Restarts the policy has made since the user last started it. */
  restartCount: number;
  /** How long the run that just ended lasted. */
  ranMs: number;
  /** The wait before the previous restart (0: none yet). */
  previousDelayMs: number;
}

export type RestartDecision = { restart: false } | { restart: true; delayMs: number };

/** What happens after a container's process ended while the daemon watched it. */
export function decideRestart(policy: RestartPolicy, run: EndedRun): RestartDecision {
  if (run.manuallyStopped) return { restart: false };
  const wanted =
    policy.name === 'always' ||
    policy.name === 'unless-stopped' ||
    (policy.name === 'on-failure' &&
      run.exitCode !== 0 &&
      (policy.maximumRetryCount === 0 || run.restartCount < policy.maximumRetryCount));
  if (!wanted) return { restart: false };
  const delayMs =
    run.previousDelayMs === 0 || run.ranMs >= RESET_RESTART_DELAY_AFTER_MS
      ? FIRST_RESTART_DELAY_MS
      : Math.min(run.previousDelayMs * 2, MAX_RESTART_DELAY_MS);
  return { restart: true, delayMs };
}

export interface AtDaemonStart {
  /** The container was running when the daemon last saw it (it ended, or the node rebooted, since). */
  wasRunning: boolean;
  manuallyStopped: boolean;
  exitCode: number;
  restartCount: number;
}

/**
 * Whether a container that is not running is started when the daemon starts. Docker's rules: `always`
 * comes back even after a manual stop (the daemon's start counts as a restart); `unless-stopped` only
 * if the user did not stop it; `on-failure` if it was running and failed within its retries; `no`
 * never.
 */
export function startAtDaemonStart(policy: RestartPolicy, c: AtDaemonStart): boolean {
  switch (policy.name) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !c.manuallyStopped;
    case 'on-failure':
      return (
        c.wasRunning &&
        !c.manuallyStopped &&
        c.exitCode !== 0 &&
        (policy.maximumRetryCount === 0 || c.restartCount < policy.maximumRetryCount)
      );
    case 'no':
      return false;
  }
}
