// The per-host process. This foundation holds the data root, serves the local API and shuts down
// cleanly; the worker and the manager role hang off start() as they are built.
import { rejectCounts, startRejectLogging } from '../lib/rejects.js';
import type * as grpc from '@grpc/grpc-js';
import { mkdirSync } from 'node:fs';
import { arch, hostname, platform, release } from 'node:os';
import { findTool } from '../lib/exec.js';
import { createLogger, type Logger } from '../lib/log.js';
import { packageVersion } from '../lib/repo.js';
import { loadOrCreateIdentity, type NodeIdentity } from './identity.js';
import { serveLocalApi, socketIsServed } from './local-api.js';
import { localStreams } from './local-streams.js';
import { openNodeImages } from './images.js';
import { imageHandlers, imageStreams } from './local-images.js';
import { containerHandlers, containerStreams, openContainers } from './local-containers.js';
import { localNetworkHandlers, openLocalNetworks } from './local-networks.js';
import type { ContainerEngine } from '../worker/containers/engine.js';
import { attachRegistryAuth } from './service-images.js';
import { SwarmNode } from './swarm.js';
import { openContainerDns, type ContainerDns } from './container-dns.js';
import { readConsistency } from '../manager/index.js';
import { UserError } from '../lib/errors.js';

import { lockDataRoot, type DataRootLock } from './lock.js';
import type { DaemonOptions } from './options.js';

const API_VERSION = '1';

/** System tools the daemon programs the kernel with; `info` reports which ones are present. */
const SYSTEM_TOOLS = ['ip', 'bridge', 'nft', 'nsenter', 'unshare'];

export interface RunningDaemon {
  identity: NodeIdentity;
  log: Logger;
  stop(): Promise<void>;
}

function toolPaths(): Record<string, string> {
  const tools: Record<string, string> = {};
  for (const tool of SYSTEM_TOOLS) {
    try {
      tools[tool] = findTool(tool);
    } catch {
      tools[tool] = '';
    }
  }
  return tools;
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const log = createLogger(opts.logLevel, { component: 'daemon' });
  // Refuse before creating anything: a live socket means another daemon answers there.
  if (await socketIsServed(opts.socket)) {
    throw new UserError(
      `another daemon is already serving ${opts.socket}; stop it first or pick another --socket`,
    );
  }
  mkdirSync(opts.dataRoot, { recursive: true, mode: 0o700 });
  mkdirSync(opts.execRoot, { recursive: true, mode: 0o700 });
  const lock: DataRootLock = lockDataRoot(opts.dataRoot);
  let server: grpc.Server | undefined;
  let swarm: SwarmNode | undefined;
  let containers: ContainerEngine | undefined;
  let containerDns: ContainerDns | undefined;
  try {
    const identity = loadOrCreateIdentity(opts.dataRoot);
    const version = packageVersion();
    const images = await openNodeImages(opts);
    const node = new SwarmNode(opts, log, images);
    swarm = node;
    await node.resume();
    // The node's standalone containers: adopted, or restarted as their policies say, before the API opens.
    // The node's local networks first: the containers' attaches replay into their drivers.
    // A network the node does not have locally may be one of the swarm's attachable overlays; in a
    // swarm (a node id) the gateway bridge is one of the local networks.
    const localNetworks = await openLocalNetworks(
      opts,
      images,
      log,
      () => node.containerNetworks(),
      () => node.nodeId,
      // The swarm networks made `--config-from` a config-only network: the store's on a manager, the
      // networks of its tasks on a worker; none outside a swarm (or when the managers do not answer:
      // the node's own say, as Docker's, is about the networks it has).
      async (configName) => {
        if (!node.nodeId) return [];
        try {
          const { networks } = await node.listNetworks({ consistency: '' }, 'linearizable');
          return (networks ?? []).flatMap((n) =>
            n.spec?.configFrom === configName ? [n.spec.name ?? ''] : [],
          );
        } catch {
          return [];
        }
      },
    );
    node.useNodeLocal(localNetworks.nodeLocal);
    // Containers on user networks resolve each other by name through their own embedded DNS.
    containerDns = openContainerDns(opts, localNetworks.attach, log, node.containerEndpoints);
    const dnsNetworks = containerDns.networks;
    containers = await openContainers(opts, images, dnsNetworks, log, (id, r) => dnsNetworks.observe(id, r));
    const engine = containers;
    server = await serveLocalApi(
      opts.socket,
      {
        Version: async () => ({
          version,
          apiVersion: API_VERSION,
          nodeVersion: process.version,
          os: platform(),
          arch: arch(),
          kernel: release(),
        }),
        Info: async () => ({
          nodeId: identity.nodeId,
          hostname: hostname(),
          ...node.info(),
          rejects: rejectCounts(),
          version,
          nodeVersion: process.version,
          kernel: release(),
          dataRoot: opts.dataRoot,
          execRoot: opts.execRoot,
          netnsPrefix: opts.netnsPrefix,
          advertiseAddr: opts.advertiseAddr,
          pid: process.pid,
          tools: toolPaths(),
        }),
        NetworkLocal: async (req) => node.networkLocal(req),
        Init: (req) => node.init(req),
        Join: (req) => node.join(req),
        Leave: async (req) => {
          await node.leave(req.force === true);
          return {};
        },
        // Control-API calls: passed on to the swarm's leader (see proto/local.proto); reads asking
        // for local consistency are answered by this manager (checked before anything else).
        ListNodes: async (req) => node.control((c) => c.listNodes(req), readConsistency(req)),
        GetNode: async (req) => node.control((c) => c.getNode(req), readConsistency(req)),
        UpdateNode: (req) => node.control((c) => c.updateNode(req)),
        RemoveNode: (req) => node.control((c) => c.removeNode(req)),
        GetJoinTokens: (req) => node.control((c) => c.getJoinTokens(req)),
        RotateJoinToken: (req) => node.control((c) => c.rotateJoinToken(req)),
        CreateNetwork: (req) => node.control((c) => c.createNetwork(req)),
        GetNetwork: async (req) => node.control((c) => c.getNetwork(req), readConsistency(req)),
        // A worker answers from what it holds (swarm.ts): ingress and its tasks' overlays.
        ListNetworks: async (req) => node.listNetworks(req, readConsistency(req)),
        RemoveNetwork: (req) => node.control((c) => c.removeNetwork(req)),
        PruneNetworks: (req) => node.control((c) => c.pruneNetworks(req)),
        // --with-registry-auth: this node's login goes into the spec here, before the call leaves it.
        CreateService: async (req) => {
          const sent = await attachRegistryAuth(images, req);
          return node.control((c) => c.createService(sent));
        },
        GetService: async (req) => node.control((c) => c.getService(req), readConsistency(req)),
        ListServices: async (req) => node.control((c) => c.listServices(req), readConsistency(req)),
        UpdateService: async (req) => {
          const sent = await attachRegistryAuth(images, req);
          return node.control((c) => c.updateService(sent));
        },
        RollbackService: (req) => node.control((c) => c.rollbackService(req)),
        RemoveService: (req) => node.control((c) => c.removeService(req)),
        ListTasks: async (req) => node.control((c) => c.listTasks(req), readConsistency(req)),
        GetTask: async (req) => node.control((c) => c.getTask(req), readConsistency(req)),
        // This node's images: its own store, never forwarded.
        ...imageHandlers(images),
        // This node's containers: its own, never forwarded.
        ...containerHandlers(containers, {
          // In a swarm, an unknown name may be an overlay: the managers' attachment decides at create.
          resolve: (ref) => localNetworks.networks.find(ref)?.name ?? (node.nodeId ? ref : undefined),
          defaultNetwork: opts.defaultBridge ? 'bridge' : 'none',
        }),
        // This node's local networks: its own, never forwarded.
        ...localNetworkHandlers(localNetworks, () => engine),
      },
      log,
      {
        ...localStreams(node),
        ...imageStreams(images, opts.dataRoot, log),
        ...containerStreams(containers, log),
      },
    );
    log.info(
      { socket: opts.socket, dataRoot: opts.dataRoot, nodeId: identity.nodeId, version },
      'daemon started',
    );
    const stopRejectLogging = startRejectLogging(log.child({ component: 'rejects' }));
    const running = server;
    let stopping: Promise<void> | undefined;
    return {
      identity,
      log,
      stop() {
        stopping ??= (async () => {
          log.info('daemon stopping');
          // Followed logs and exec sessions never end by themselves: give them a moment, then cut them.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              running.forceShutdown();
              resolve();
            }, 2_000);
            running.tryShutdown(() => {
              clearTimeout(timer);
              resolve();
            });
          });
          containers?.close();
          await containerDns?.close().catch(() => {});
          await swarm?.stop();
          stopRejectLogging();
          lock.release();
          log.info('daemon stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    server?.forceShutdown();
    containers?.close();
    await containerDns?.close().catch(() => {});
    await swarm?.stop().catch(() => {});
    lock.release();
    throw err;
  }
}

/** Runs the daemon until SIGTERM or SIGINT, then stops it cleanly and exits. */
export async function runDaemonUntilSignalled(opts: DaemonOptions): Promise<void> {
  const daemon = await startDaemon(opts);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      daemon.log.info({ signal }, 'signal received');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  const forceExit = setTimeout(() => {
    daemon.log.error('clean shutdown took longer than 10 s; exiting anyway');
    process.exit(1);
  }, 10_000);
  forceExit.unref();
  await daemon.stop();
}
