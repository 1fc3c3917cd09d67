// The node's standalone containers on disk: one JSON file per container under the daemon's data root
// (lib/record-store.ts: replaced whole, read back field by field by recordProblem below).
import { RecordStore } from '../../lib/record-store.js';
import { CONTAINER_STATUSES, type ContainerRecord } from './lifecycle.js';
import { isContainerId } from './names.js';
import { RESTART_POLICY_NAMES } from './restart-policy.js';

export class ContainerStore extends RecordStore<ContainerRecord> {
  constructor(dir: string) {
    super(dir, { name: 'container', validId: isContainerId, problem: recordProblem });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isPortNumber = (v: unknown, zero: boolean) =>
  Number.isSafeInteger(v) && (v as number) >= (zero ? 0 : 1) && (v as number) <= 65535;
const isPort = (p: unknown) =>
  isObject(p) &&
  (p.protocol === 'tcp' || p.protocol === 'udp') &&
  isPortNumber(p.containerPort, false) &&
  isPortNumber(p.hostPort, true) &&
  (p.hostIp === undefined || typeof p.hostIp === 'string');

/** What is wrong with one network's settings ('' for the whole, '.field' for a field), or undefined. */
function settingsProblem(n: unknown): string | undefined {
  if (!isObject(n)) return '';
  for (const k of ['networkId', 'networkName', 'address', 'gateway', 'macAddress'])
    if (typeof n[k] !== 'string') return `.${k}`;
  if (!Array.isArray(n.ports) || !n.ports.every(isPort)) return '.ports';
  for (const k of ['ifName', 'endpointId'])
    if (n[k] !== undefined && (typeof n[k] !== 'string' || n[k] === '')) return `.${k}`;
  if (n.aliases !== undefined && !isStrings(n.aliases)) return '.aliases';
  return undefined;
}

/** What is wrong with a value read back as a record, or undefined. */
export function recordProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an object';
  if (typeof v.id !== 'string' || !isContainerId(v.id)) return 'bad id';
  if (typeof v.name !== 'string' || v.name === '') return 'bad name';
  if (typeof v.created !== 'string') return 'bad created';
  const c = v.config;
  if (!isObject(c)) return 'no config';
  if (typeof c.image !== 'string' || !isStrings(c.cmd) || !isStrings(c.env)) return 'bad config';
  if (c.entrypoint !== undefined && !isStrings(c.entrypoint)) return 'bad config.entrypoint';
  for (const k of ['workdir', 'user', 'hostname']) if (typeof c[k] !== 'string') return `bad config.${k}`;
  const h = v.hostConfig;
  if (!isObject(h) || !isObject(h.restartPolicy)) return 'no hostConfig';
  if (!(RESTART_POLICY_NAMES as readonly unknown[]).includes(h.restartPolicy.name))
    return 'bad restart policy';
  if (!isCount(h.restartPolicy.maximumRetryCount)) return 'bad restart policy';
  if (typeof h.autoRemove !== 'boolean' || !isCount(h.memoryBytes) || !isCount(h.nanoCpus))
    return 'bad hostConfig';
  if (typeof h.networkMode !== 'string' || h.networkMode === '') return 'bad network mode';
  if (h.portBindings !== undefined && !(Array.isArray(h.portBindings) && h.portBindings.every(isPort)))
    return 'bad hostConfig.portBindings';
  if (h.publishAllPorts !== undefined && typeof h.publishAllPorts !== 'boolean')
    return 'bad hostConfig.publishAllPorts';
  for (const k of ['networkAliases', 'dns'])
    if (h[k] !== undefined && !isStrings(h[k])) return `bad hostConfig.${k}`;
  const n = v.networkSettings;
  if (n !== undefined) {
    const bad = settingsProblem(n);
    if (bad !== undefined) return `bad networkSettings${bad}`;
  }
  if (v.networks !== undefined) {
    if (!Array.isArray(v.networks)) return 'bad networks';
    for (const [i, n] of v.networks.entries()) {
      const bad = settingsProblem(n);
      if (bad !== undefined) return `bad networks[${i}]${bad}`;
    }
  }
  const s = v.state;
  if (!isObject(s) || !(CONTAINER_STATUSES as readonly unknown[]).includes(s.status)) return 'bad state';
  for (const k of ['pid', 'restartCount', 'restartDelayMs']) if (!isCount(s[k])) return `bad state.${k}`;
  if (!Number.isSafeInteger(s.exitCode)) return 'bad state.exitCode';
  for (const k of ['error', 'startedAt', 'finishedAt']) if (typeof s[k] !== 'string') return `bad state.${k}`;
  if (typeof s.oomKilled !== 'boolean' || typeof s.manuallyStopped !== 'boolean') return 'bad state';
  return undefined;
}
