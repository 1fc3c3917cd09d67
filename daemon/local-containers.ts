// The local API's container verbs (proto/local.proto Container*) over the node's ContainerEngine
// (worker/containers). They act on this node's containers only, as `docker container` does. Refusals
// keep the engine's words (Docker's) with a status a client can act on: NOT_FOUND for an unknown
// container or image, FAILED_PRECONDITION for a conflict (a name in use, a running container removed
// without force), INVALID_ARGUMENT for a bad value.
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { isIP, isIPv4 } from 'node:net';
import { isDnsName } from '../lib/dns-name.js';
import { hostname } from 'node:os';
import type { ContainerConfig as WireConfig } from '../api/gen/swarmlite/local/v1/ContainerConfig.js';
import type { ContainerHostConfig__Output } from '../api/gen/swarmlite/local/v1/ContainerHostConfig.js';
import type { Container } from '../api/gen/swarmlite/local/v1/Container.js';
import type { ExecInput } from '../api/gen/swarmlite/objects/v1/ExecInput.js';
import type { LocalApiHandlers } from '../api/rpc.js';
import type { Logger } from '../lib/log.js';
import { serveExecCall } from '../manager/index.js';
import { ContainerEngine, ContainerError, type PullPolicy } from '../worker/containers/engine.js';
import type { ContainerRecord, HostConfig } from '../worker/containers/lifecycle.js';
import type { ContainerNetworks } from '../worker/containers/network.js';
import { usesEmbeddedDns } from '../worker/containers/dns-records.js';
import type { PortRequest } from '../worker/containers/ports.js';
import type { ContainerPort } from '../api/gen/swarmlite/local/v1/ContainerPort.js';
import { formatRestartPolicy, parseRestartPolicy } from '../worker/containers/restart-policy.js';
import { ContainerStore } from '../worker/containers/store.js';
import type { ImageService } from '../worker/images/images.js';
import { parseReference } from '../worker/images/reference.js';
import { containerRuntime } from './executor.js';
import { BUILTIN_IMAGE } from '../api/task-templates.js';
import { runnableImages } from './images.js';
import { toStatus, type LocalUnaryHandlers } from './local-api.js';
import type { DaemonOptions } from './options.js';
import { credentialsFor, pullFailure } from './service-images.js';
import type { ContainerNetworkSettings } from '../api/gen/swarmlite/local/v1/ContainerNetworkSettings.js';
import { networksOf } from '../worker/containers/connections.js';
import type { NetworkSettings } from '../worker/containers/network.js';

type ContainerUnary = Pick<
  LocalUnaryHandlers,
  | 'ContainerCreate'
  | 'ContainerStart'
  | 'ContainerStop'
  | 'ContainerRestart'
  | 'ContainerRemove'
  | 'ContainerList'
  | 'ContainerInspect'
  | 'ContainerRename'
  | 'ContainerPrune'
  | 'ContainerWait'
  | 'ContainerNetworkConnect'
  | 'ContainerNetworkDisconnect'
>;
export type ContainerStreams = Pick<LocalApiHandlers, 'ContainerLogs' | 'ContainerExec'>;

/** Opens the node's containers: records under <data-root>/containers, adopted and restarted per policy. */
export async function openContainers(
  opts: DaemonOptions,
  images: ImageService,
  networks: ContainerNetworks,
  log: Logger,
  onRecord?: (id: string, r: ContainerRecord | undefined) => void,
): Promise<ContainerEngine> {
  const engine = new ContainerEngine({
    store: new ContainerStore(join(opts.dataRoot, 'containers', 'records')),
    runtime: containerRuntime(
      opts.dataRoot,
      opts.execRoot,
      opts.netnsPrefix,
      hostname(),
      runnableImages(images),
    ),
    images: {
      // The built-in `host` image is always there: never looked for in a registry.
      present: (ref) => ref === BUILTIN_IMAGE || images.store.byReference(parseReference(ref)) !== undefined,
      pull: async (ref) => {
        const creds = credentialsFor(parseReference(ref), undefined);
        await images.pull(ref, creds ? { auth: creds } : {}).catch((err: unknown) => {
          throw pullFailure(ref, err);
        });
      },
    },
    networks,
    nodeResolvConf: opts.resolvConf,
    log: log.child({ component: 'containers' }),
    ...(onRecord ? { onRecord } : {}),
  });
  await engine.open();
  return engine;
}

const CODES: Record<ContainerError['kind'], grpc.status> = {
  'not-found': grpc.status.NOT_FOUND,
  conflict: grpc.status.FAILED_PRECONDITION,
  invalid: grpc.status.INVALID_ARGUMENT,
};

/** A container refusal as the status the local API answers with; anything else goes to toStatus. */
export function containerStatus(err: unknown): grpc.ServiceError {
  if (!(err instanceof ContainerError)) return toStatus(err);
  return Object.assign(new Error(err.message), {
    code: CODES[err.kind],
    details: err.message,
    metadata: new grpc.Metadata(),
  });
}

async function refusing<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw err instanceof ContainerError ? containerStatus(err) : err;
  }
}

const invalid = (message: string) => new ContainerError(message, 'invalid');

/** How the handlers name a container's network: the local network's name for a ref, and the default. */
export interface NetworkNames {
  /** The name of the local network `ref` (name, id or id prefix) is, undefined when none. */
  resolve(ref: string): string | undefined;
  /** `bridge`, or `none` on a daemon with `--bridge none`. */
  defaultNetwork: string;
}

function portFromWire(p: ContainerPort, hostPortAllowed: boolean): PortRequest {
  const protocol = p.protocol || 'tcp';
  if (protocol !== 'tcp' && protocol !== 'udp')
    throw invalid(`invalid protocol "${protocol}": use tcp or udp`);
  const inRange = (n: number | undefined, zero: boolean) =>
    Number.isInteger(n) && (n as number) >= (zero ? 0 : 1) && (n as number) <= 65535;
  if (!inRange(p.containerPort, false)) throw invalid(`invalid container port ${p.containerPort}`);
  if (!inRange(p.hostPort, hostPortAllowed)) throw invalid(`invalid host port ${p.hostPort}`);
  if (p.hostIp && !isIPv4(p.hostIp)) throw invalid(`invalid host IP "${p.hostIp}"`);
  return {
    protocol,
    containerPort: p.containerPort!,
    hostPort: p.hostPort ?? 0,
    ...(p.hostIp && p.hostIp !== '0.0.0.0' ? { hostIp: p.hostIp } : {}),
  };
}

function hostConfigFromWire(h: ContainerHostConfig__Output | null, names: NetworkNames): HostConfig {
  const restartText = h?.restartPolicy || 'no';
  let restartPolicy;
  try {
    restartPolicy = parseRestartPolicy(restartText);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  const wanted = h?.networkMode || names.defaultNetwork;
  const networkMode = names.resolve(wanted);
  if (networkMode === undefined) throw new ContainerError(`network ${wanted} not found`, 'not-found');
  const portBindings = (h?.portBindings ?? []).map((p) => portFromWire(p, true));
  const memoryBytes = h?.memoryBytes ?? 0;
  const nanoCpus = h?.nanoCpus ?? 0;
  if (!Number.isSafeInteger(memoryBytes) || memoryBytes < 0)
    throw invalid(`invalid memory limit ${memoryBytes}`);
  if (!Number.isSafeInteger(nanoCpus) || nanoCpus < 0) throw invalid(`invalid CPU limit ${nanoCpus}`);
  if (nanoCpus !== 0 && nanoCpus < 10_000_000)
    throw invalid('Range of CPUs is from 0.01 to the number of CPUs');
  const networkAliases = h?.networkAliases ?? [];
  if (networkAliases.length > 0 && !usesEmbeddedDns(networkMode))
    throw invalid('network-scoped alias is supported only for containers in user defined networks');
  for (const a of networkAliases)
    if (!isDnsName(a) || a === '') throw invalid(`invalid network alias "${a}": use a DNS name`);
  const dns = h?.dns ?? [];
  for (const d of dns) if (isIP(d) === 0) throw invalid(`invalid DNS server "${d}": use an IP address`);
  return {
    restartPolicy,
    autoRemove: h?.autoRemove === true,
    memoryBytes,
    nanoCpus,
    networkMode,
    portBindings,
    publishAllPorts: h?.publishAllPorts === true,
    ...(networkAliases.length > 0 ? { networkAliases: [...networkAliases] } : {}),
    ...(dns.length > 0 ? { dns: [...dns] } : {}),
  };
}

const PULL: readonly string[] = ['missing', 'never', 'always'];
/** A DNS label or name: what an alias may be. */
const ALIAS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;

export function toWire(r: ContainerRecord): Container {
  const c = r.config;
  const config: WireConfig = {
    image: c.image,
    entrypointSet: c.entrypoint !== undefined,
    entrypoint: c.entrypoint ?? [],
    cmd: c.cmd,
    env: c.env,
    workdir: c.workdir,
    user: c.user,
    hostname: c.hostname,
  };
  const h = r.hostConfig;
  const s = r.state;
  const networks = networksOf(r) ?? [];
  return {
    id: r.id,
    name: r.name,
    created: r.created,
    config,
    hostConfig: {
      restartPolicy: formatRestartPolicy(h.restartPolicy),
      autoRemove: h.autoRemove,
      memoryBytes: h.memoryBytes,
      nanoCpus: h.nanoCpus,
      networkMode: h.networkMode,
      portBindings: (h.portBindings ?? []).map(portToWire),
      publishAllPorts: h.publishAllPorts ?? false,
      networkAliases: h.networkAliases ?? [],
      dns: h.dns ?? [],
    },
    state: {
      status: s.status,
      pid: s.pid,
      exitCode: s.exitCode,
      error: s.error,
      oomKilled: s.oomKilled,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      restartCount: s.restartCount,
    },
    ...(networks[0] ? { networkSettings: settingsToWire(networks[0]) } : {}),
    networks: networks.map(settingsToWire),
  };
}

const settingsToWire = (s: NetworkSettings): ContainerNetworkSettings => ({
  networkId: s.networkId,
  networkName: s.networkName,
  ipAddress: s.address,
  gateway: s.gateway,
  macAddress: s.macAddress,
  ports: s.ports.map(portToWire),
  interface: s.ifName ?? 'eth0',
  aliases: s.aliases ?? [],
});

const portToWire = (p: PortRequest): ContainerPort => ({
  protocol: p.protocol,
  containerPort: p.containerPort,
  hostPort: p.hostPort,
  hostIp: p.hostIp ?? '',
});

const timeoutOf = (req: { hasTimeout: boolean; timeoutSeconds: number }) => {
  if (!req.hasTimeout) return undefined;
  if (!Number.isInteger(req.timeoutSeconds) || req.timeoutSeconds < 0)
    throw invalid(`invalid timeout ${req.timeoutSeconds}`);
  return req.timeoutSeconds * 1000;
};

export function containerHandlers(engine: ContainerEngine, names: NetworkNames): ContainerUnary {
  return {
    ContainerCreate: (req) =>
      refusing(async () => {
        const c = req.config;
        if (!c?.image) throw invalid('an image is required');
        try {
          parseReference(c.image);
        } catch (err) {
          throw invalid((err as Error).message);
        }
        const pull = req.pull || 'missing';
        if (!PULL.includes(pull))
          throw invalid(`invalid pull option '${pull}': use missing, never or always`);
        const created = await engine.create({
          name: req.name,
          config: {
            image: c.image,
            ...(c.entrypointSet ? { entrypoint: c.entrypoint } : {}),
            cmd: c.cmd,
            env: c.env,
            workdir: c.workdir,
            user: c.user,
            hostname: c.hostname,
          },
          hostConfig: hostConfigFromWire(req.hostConfig, names),
          pull: pull as PullPolicy,
        });
        if (!req.start) return { container: toWire(created) };
        return { container: toWire(await engine.start(created.id)) };
      }),
    ContainerStart: (req) => refusing(async () => ({ container: toWire(await engine.start(req.ref)) })),
    ContainerStop: (req) =>
      refusing(async () => ({ container: toWire(await engine.stop(req.ref, timeoutOf(req))) })),
    ContainerRestart: (req) =>
      refusing(async () => ({ container: toWire(await engine.restart(req.ref, timeoutOf(req))) })),
    ContainerRemove: (req) => refusing(async () => ({ id: await engine.remove(req.ref, req.force) })),
    ContainerList: (req) => refusing(() => ({ containers: engine.list(req.all).map(toWire) })),
    ContainerInspect: (req) => refusing(() => ({ container: toWire(engine.inspect(req.ref)) })),
    ContainerRename: (req) =>
      refusing(async () => ({ container: toWire(await engine.rename(req.ref, req.newName)) })),
    ContainerPrune: () => refusing(async () => ({ deleted: await engine.prune() })),
    ContainerWait: (req) => refusing(async () => ({ exitCode: await engine.wait(req.ref) })),
    ContainerNetworkConnect: (req) =>
      refusing(async () => {
        if (req.ip && !isIPv4(req.ip)) throw invalid(`invalid IP address "${req.ip}": use an IPv4 address`);
        for (const a of req.aliases)
          if (!ALIAS.test(a)) throw invalid(`invalid alias "${a}": use letters, digits, '-', '_' and '.'`);
        const r = await engine.connect(req.container, req.network, {
          ...(req.ip ? { ip: req.ip } : {}),
          aliases: [...new Set(req.aliases)],
        });
        return { container: toWire(r) };
      }),
    ContainerNetworkDisconnect: (req) =>
      refusing(async () => ({
        container: toWire(await engine.disconnect(req.container, req.network, req.force)),
      })),
  };
}

export function containerStreams(engine: ContainerEngine, log: Logger): ContainerStreams {
  return {
    ContainerLogs: (call) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      void (async () => {
        const { ref, follow, tail, attach } = call.request;
        const lines = engine.logs(ref, {
          follow,
          attach,
          signal: abort.signal,
          ...(tail >= 0 ? { tail } : {}),
          onAttached: () => attach && call.write({ attached: true }),
          onStopped: (exitCode) => call.write({ exited: true, exitCode }),
        });
        for await (const l of lines) call.write({ stream: l.stream, time: l.time, line: l.line });
        call.end();
      })().catch((err: unknown) => {
        if (!(err instanceof ContainerError))
          log.error({ rpc: 'ContainerLogs', err }, 'local API call failed unexpectedly');
        call.emit('error', containerStatus(err));
      });
    },
    ContainerExec: (call) =>
      serveExecCall(
        call,
        (req, sink) => {
          let handle: Awaited<ReturnType<ContainerEngine['exec']>> | undefined;
          let cancelled = false;
          const pending: ExecInput[] = [];
          const stdin = req.stdin ? new PassThrough() : undefined;
          const feed = (i: ExecInput) => {
            if (i.stdin && i.stdin.length > 0) stdin?.write(i.stdin);
            if (i.stdinEof) stdin?.end();
            if (i.signal) handle?.kill(i.signal as NodeJS.Signals);
          };
          void (async () => {
            try {
              handle = await engine.exec(req.task, req.argv, { tty: req.tty, ...(stdin ? { stdin } : {}) });
            } catch (err) {
              sink.fail(containerStatus(err));
              return;
            }
            if (cancelled) return handle.kill('SIGKILL');
            for (const i of pending.splice(0)) feed(i);
            handle.stdout.on('data', (d: Buffer) => sink.write({ stdout: d }));
            handle.stderr.on('data', (d: Buffer) => sink.write({ stderr: d }));
            const ended = (s: NodeJS.ReadableStream) => new Promise<void>((r) => s.once('end', () => r()));
            const [code] = await Promise.all([handle.exit, ended(handle.stdout), ended(handle.stderr)]);
            sink.write({ exited: true, exitCode: code });
            sink.end();
          })();
          return {
            input: (i) => (handle ? feed(i) : pending.push(i)),
            cancel: () => {
              cancelled = true;
              handle?.kill('SIGKILL');
            },
          };
        },
        containerStatus,
      ),
  };
}
