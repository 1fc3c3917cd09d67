// Docker's defaults for what `service create` leaves unsaid: the control API starts from these, and
// tests build their objects on them.
import type { RestartPolicy, TaskSpec, UpdateConfig } from './service.js';

export function defaultRestartPolicy(): RestartPolicy {
  return { condition: 'any', delayMs: 5_000, maxAttempts: 0, windowMs: 0 };
}

export function defaultUpdateConfig(): UpdateConfig {
  return {
    parallelism: 1,
    delayMs: 0,
    order: 'stop-first',
    failureAction: 'pause',
    monitorMs: 5_000,
    maxFailureRatio: 0,
  };
}

/** Docker's rollback defaults are its update defaults. */
export function defaultRollbackConfig(): UpdateConfig {
  return defaultUpdateConfig();
}

export function defaultTaskSpec(image: string, command: string[] = []): TaskSpec {
  return {
    image,
    command,
    args: [],
    env: [],
    workdir: '',
    user: '',
    hostname: '',
    dns: { nameservers: [], search: [], options: [] },
    resources: { limits: { nanoCpus: 0, memoryBytes: 0 }, reservations: { nanoCpus: 0, memoryBytes: 0 } },
    restartPolicy: defaultRestartPolicy(),
    placement: { constraints: [] },
    networks: [],
    stopGracePeriodMs: 10_000,
    forceUpdate: 0,
  };
}
