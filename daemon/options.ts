// The daemon's settings, their defaults (Docker's layout under swarmlite names) and their validation.
import { isIPv4 } from 'node:net';
import { UserError } from '../lib/errors.js';
import { LOG_LEVELS, type LogLevel } from '../lib/log.js';
import { NETNS_PREFIX_PATTERN } from '../lib/netns-prefix.js';

export interface DaemonOptions {
  dataRoot: string;
  execRoot: string;
  socket: string;
  /** Prefix of every namespace, interface and nftables table this daemon creates. */
  netnsPrefix: string;
  /** Underlay address other nodes reach this one at ('' = decided at init/join). */
  advertiseAddr: string;
  logLevel: LogLevel;
  /** What runs tasks: the real runtime, or the simulated one control-plane tests and benchmarks use. */
  executor: ExecutorKind;
  /** Where the embedded DNS finds its upstream resolvers (read when each task starts, as Docker does). */
  resolvConf: string;
  /** Registries (`host[:port]`) reached over plain HTTP, as Docker's `--insecure-registry`. */
  insecureRegistries: string[];
  /** The default `bridge` network for standalone containers; false: none (dockerd's `--bridge none`). */
  defaultBridge: boolean;
}

const EXECUTOR_KINDS = ['runtime', 'simulated'] as const;
export type ExecutorKind = (typeof EXECUTOR_KINDS)[number];

export const DEFAULT_SOCKET = '/run/swarmlite/swarmlite.sock';

export const DAEMON_DEFAULTS: DaemonOptions = {
  dataRoot: '/var/lib/swarmlite',
  execRoot: '/run/swarmlite/exec',
  socket: DEFAULT_SOCKET,
  netnsPrefix: 'swl',
  advertiseAddr: '',
  logLevel: 'info',
  executor: 'runtime',
  resolvConf: '/etc/resolv.conf',
  insecureRegistries: [],
  defaultBridge: true,
};

/** `host` or `host:port`, as a registry is named in an image reference. */
const REGISTRY_HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$/;

export function validateDaemonOptions(o: DaemonOptions): DaemonOptions {
  if (!o.dataRoot.startsWith('/'))
    throw new UserError(`--data-root must be an absolute path, got '${o.dataRoot}'`);
  if (!o.execRoot.startsWith('/'))
    throw new UserError(`--exec-root must be an absolute path, got '${o.execRoot}'`);
  if (!o.socket.startsWith('/')) throw new UserError(`--socket must be an absolute path, got '${o.socket}'`);
  // sun_path holds 108 bytes including the terminating NUL.
  if (Buffer.byteLength(o.socket) > 107)
    throw new UserError(`--socket path is longer than 107 bytes: ${o.socket}`);
  if (!NETNS_PREFIX_PATTERN.test(o.netnsPrefix)) {
    throw new UserError(
      `--netns-prefix '${o.netnsPrefix}' is invalid: use 1-13 of a-z, 0-9 and '-', starting with a letter`,
    );
  }
  if (o.advertiseAddr && !isIPv4(o.advertiseAddr)) {
    throw new UserError(`--advertise-addr must be an IPv4 address, got '${o.advertiseAddr}'`);
  }
  if (!(LOG_LEVELS as readonly string[]).includes(o.logLevel)) {
    throw new UserError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${o.logLevel}'`);
  }
  if (!o.resolvConf.startsWith('/'))
    throw new UserError(`--resolv-conf must be an absolute path, got '${o.resolvConf}'`);
  if (!(EXECUTOR_KINDS as readonly string[]).includes(o.executor)) {
    throw new UserError(`--executor must be one of ${EXECUTOR_KINDS.join(', ')}, got '${o.executor}'`);
  }
  for (const registry of o.insecureRegistries) {
    if (!REGISTRY_HOST.test(registry))
      throw new UserError(`--insecure-registry must be host or host:port, got '${registry}'`);
  }
  return o;
}
