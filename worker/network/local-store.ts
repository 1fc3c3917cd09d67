// The node's local networks on disk (bridge, host, none and user bridges): one JSON file per network
// under `<data-root>/networks/local/` (lib/record-store.ts: replaced whole, read back field by field
// by networkRecordProblem below).
import { RecordStore } from '../../lib/record-store.js';
import type { NetworkConfig } from './driver.js';

export interface LocalNetworkRecord extends NetworkConfig {
  /** RFC 3339. */
  created: string;
  /**
   * `network create --config-only`: settings (subnet, gateway, ip range, parent, mode) a swarm network
   * made with `--config-from <this name>` takes on this node. No driver holds it (driver `null`).
   */
  configOnly?: boolean;
}

const ID = /^[0-9a-f]{64}$/;

export class LocalNetworkStore extends RecordStore<LocalNetworkRecord> {
  constructor(dir: string) {
    super(dir, { name: 'network', validId: (id) => ID.test(id), problem: networkRecordProblem });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with a value read back as a network record, or undefined. */
export function networkRecordProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an object';
  if (typeof v.id !== 'string' || !ID.test(v.id)) return 'bad id';
  if (typeof v.name !== 'string' || v.name === '') return 'bad name';
  if (typeof v.driver !== 'string' || v.driver === '') return 'bad driver';
  if (typeof v.created !== 'string') return 'bad created';
  if (typeof v.internal !== 'boolean') return 'bad internal';
  if (v.configOnly !== undefined && typeof v.configOnly !== 'boolean') return 'bad configOnly';
  if (v.mtu !== undefined && !(Number.isSafeInteger(v.mtu) && (v.mtu as number) > 0)) return 'bad mtu';
  if (!isObject(v.options) || !Object.values(v.options).every((o) => typeof o === 'string'))
    return 'bad options';
  if (!Array.isArray(v.subnets)) return 'bad subnets';
  for (const s of v.subnets as unknown[]) {
    if (!isObject(s) || typeof s.subnet !== 'string' || typeof s.gateway !== 'string') return 'bad subnet';
    if (s.ipRange !== undefined && typeof s.ipRange !== 'string') return 'bad subnet';
  }
  return undefined;
}
