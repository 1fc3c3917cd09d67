// A task spec's container options (capabilities, read-only root, init, security options, mounts, stop
// signal) between the wire and the store. proto3 has no unset scalars: the wire carries Docker's
// defaults as '', false and [], the store leaves them out, so a spec that uses none of them is the
// same object it was before they existed. Names are taken as Docker takes them (`net_admin`,
// `NET_ADMIN`, `CAP_NET_ADMIN`; `TERM`, `15`, `SIGTERM`) and stored in one form; whatever Linux does
// not have is INVALID_ARGUMENT naming the field. Rules on mounts are validateService's (checkMounts).
import { MOUNT_TYPES, type Mount, type TaskSpec } from '../../api/objects/index.js';
import { normalizeCapability, normalizeSignal } from '../../api/container-options.js';
import type { Mount__Output } from '../../api/gen/swarmlite/objects/v1/Mount.js';
import type { TaskSpec__Output } from '../../api/gen/swarmlite/objects/v1/TaskSpec.js';
import { invalid, wholeNumber } from './wire-values.js';

/** The fields of TaskSpec this file converts. */
export type ContainerFields = Pick<
  TaskSpec,
  'capAdd' | 'capDrop' | 'readOnly' | 'init' | 'noNewPrivileges' | 'seccomp' | 'mounts' | 'stopSignal'
>;

function capabilitiesFromWire(list: string[], path: string): string[] {
  const out: string[] = [];
  for (const name of list) {
    const cap = normalizeCapability(name);
    if (!cap)
      throw invalid(
        `invalid ${path} "${name}": no such Linux capability (e.g. NET_ADMIN, CAP_SYS_TIME or ALL)`,
      );
    if (!out.includes(cap)) out.push(cap);
  }
  return out;
}

function mountFromWire(m: Mount__Output, path: string): Mount {
  if (!(MOUNT_TYPES as readonly string[]).includes(m.type))
    throw invalid(`invalid ${path}.type "${m.type}": use ${MOUNT_TYPES.join(', ')}`);
  return {
    type: m.type as Mount['type'],
    source: m.source,
    target: m.target,
    readonly: m.readonly,
    tmpfsSizeBytes: wholeNumber(m.tmpfsSizeBytes, `${path}.tmpfsSizeBytes`),
    tmpfsMode: m.tmpfsMode,
  };
}

export function containerFieldsFromWire(m: TaskSpec__Output): ContainerFields {
  const capAdd = capabilitiesFromWire(m.capAdd, 'task.capAdd');
  const capDrop = capabilitiesFromWire(m.capDrop, 'task.capDrop');
  if (m.seccomp !== '' && m.seccomp !== 'unconfined')
    throw invalid(
      `invalid task.seccomp "${m.seccomp}": use unconfined, or leave it empty for Docker's default profile (custom profiles are not supported)`,
    );
  const stopSignal = m.stopSignal === '' ? undefined : normalizeSignal(m.stopSignal);
  if (m.stopSignal !== '' && !stopSignal)
    throw invalid(
      `invalid task.stopSignal "${m.stopSignal}": use a signal name such as SIGTERM, SIGINT or SIGUSR1 (or its number)`,
    );
  return {
    ...(capAdd.length ? { capAdd } : {}),
    ...(capDrop.length ? { capDrop } : {}),
    ...(m.readOnly ? { readOnly: true } : {}),
    ...(m.init !== undefined ? { init: m.init } : {}),
    ...(m.noNewPrivileges ? { noNewPrivileges: true } : {}),
    ...(m.seccomp === 'unconfined' ? { seccomp: 'unconfined' as const } : {}),
    ...(m.mounts.length ? { mounts: m.mounts.map((x, i) => mountFromWire(x, `task.mounts[${i}]`)) } : {}),
    ...(stopSignal ? { stopSignal } : {}),
  };
}

/** As proto-loader decodes them: every field present, `init` (proto3 `optional`) only when set. */
export function containerFieldsToWire(
  t: ContainerFields,
): Pick<
  TaskSpec__Output,
  | 'capAdd'
  | 'capDrop'
  | 'readOnly'
  | 'init'
  | '_init'
  | 'noNewPrivileges'
  | 'seccomp'
  | 'mounts'
  | 'stopSignal'
> {
  return {
    capAdd: [...(t.capAdd ?? [])],
    capDrop: [...(t.capDrop ?? [])],
    readOnly: t.readOnly ?? false,
    ...(t.init !== undefined ? { init: t.init, _init: 'init' as const } : {}),
    noNewPrivileges: t.noNewPrivileges ?? false,
    seccomp: t.seccomp ?? '',
    mounts: (t.mounts ?? []).map((m) => ({ ...m })),
    stopSignal: t.stopSignal ?? '',
  };
}
