// Networks, services and tasks as the CLI receives and sends them: proto-loader's decoding of
// proto/objects.proto (camelCase, longs as numbers, enums as strings, absent messages null). It mirrors
// the store's shapes except the service mode, a oneof on the wire: `replicated: {replicas}` or
// `global: {}`, with `mode` naming the one that is set.
import type {
  Network,
  PortConfig,
  ServiceSpec,
  Task,
  UpdateStatus,
  VirtualIp,
} from '../api/objects/index.js';
import type { Meta } from '../api/objects/index.js';

/** The oneof member not chosen arrives absent (null from in-process callers). */
export type WireServiceSpec = Omit<ServiceSpec, 'mode'> & {
  replicated?: { replicas: number } | null;
  global?: Record<string, never> | null;
  mode?: 'replicated' | 'global';
};

export interface WireService {
  id: string;
  meta: Meta;
  spec: WireServiceSpec;
  previousSpec: WireServiceSpec | null;
  specVersion: number;
  endpoint: { ports: PortConfig[]; virtualIps: VirtualIp[] } | null;
  updateStatus: UpdateStatus | null;
}

export type WireTask = Task;
export type WireNetwork = Network;

export interface ServiceListEntry {
  service: WireService;
  running: number;
  desired: number;
}

/** Just what the CLI needs of a node: its id and hostname (for `service ps` and global progress). */
export interface NodeName {
  id: string;
  description: { hostname: string };
}

export function isGlobal(spec: WireServiceSpec): boolean {
  return spec.mode ? spec.mode === 'global' : spec.global != null;
}

export function replicasOf(spec: WireServiceSpec): number {
  return spec.replicated?.replicas ?? 0;
}

/** Docker prints 12 characters of an id unless told --no-trunc. */
export const shortId = (id: string) => id.slice(0, 12);
