// The container options a task's spec asks for, in the executor's terms (executor.ts): the spec
// speaks the store's language (absent = Docker's default, tmpfs size and mode 0 = unset), the
// executor takes only what differs from its defaults. Pure.
import type { Mount, TaskSpec } from '../../api/objects/index.js';
import type { ContainerMount, ContainerOptions } from './executor.js';

function containerMount(m: Mount): ContainerMount {
  if (m.type === 'tmpfs')
    return {
      type: 'tmpfs',
      target: m.target,
      ...(m.tmpfsSizeBytes ? { sizeBytes: m.tmpfsSizeBytes } : {}),
      ...(m.tmpfsMode ? { mode: m.tmpfsMode } : {}),
    };
  return { type: m.type, source: m.source, target: m.target, readonly: m.readonly };
}

/** Undefined when the spec leaves every option at Docker's default. */
export function containerOptions(spec: TaskSpec): ContainerOptions | undefined {
  const o: ContainerOptions = {
    ...(spec.capAdd?.length ? { capAdd: [...spec.capAdd] } : {}),
    ...(spec.capDrop?.length ? { capDrop: [...spec.capDrop] } : {}),
    ...(spec.readOnly ? { readOnly: true } : {}),
    ...(spec.init !== undefined ? { init: spec.init } : {}),
    ...(spec.noNewPrivileges ? { noNewPrivileges: true } : {}),
    ...(spec.seccomp === 'unconfined' ? { seccomp: 'unconfined' as const } : {}),
    ...(spec.mounts?.length ? { mounts: spec.mounts.map(containerMount) } : {}),
  };
  return Object.keys(o).length ? o : undefined;
}
