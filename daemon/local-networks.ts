// The node's local networks (proto/local.proto LocalNetwork*) and the container attach point over them:
// the node's CNM drivers (worker/network), the network store under <data-root>/networks/local, and the
// adapter that plugs standalone containers in (worker/containers/cnm-networks.ts). Refusals: NOT_FOUND
// for an unknown network, FAILED_PRECONDITION for a conflict (a name taken, a network in use, an
// overlapping subnet), INVALID_ARGUMENT for a bad value.
import * as grpc from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalNetwork } from '../api/gen/swarmlite/local/v1/LocalNetwork.js';
import type { Logger } from '../lib/log.js';
import { CnmContainerNetworks } from '../worker/containers/cnm-networks.js';
import type { ContainerEngine } from '../worker/containers/engine.js';
import type { SwarmNetworks } from '../worker/containers/swarm-networks.js';
import { listeningPorts } from '../worker/containers/ports.js';
import { BridgeDriver } from '../worker/network/bridge/driver.js';
import { NetworkDriverError } from '../worker/network/driver.js';
import { nodeDrivers } from '../worker/network/drivers.js';
import { gatewayBridgeRecord } from '../worker/network/gateway-record.js';
import { LocalNetworks } from '../worker/network/local-networks.js';
import type { LocalNetworkRecord } from '../worker/network/local-store.js';
import { LocalNetworkStore } from '../worker/network/local-store.js';
import { NodeLocalSwarmNetworks } from '../worker/network/node-local.js';
import type { ImageService } from '../worker/images/images.js';
import { toStatus, type LocalUnaryHandlers } from './local-api.js';
import type { DaemonOptions } from './options.js';

export interface NodeLocalNetworks {
  networks: LocalNetworks;
  attach: CnmContainerNetworks;
  /** The bridge driver itself: what it programmed, for `network inspect -v`. */
  bridge: BridgeDriver;
  /** Node-local swarm networks (macvlan/bridge --scope swarm) through the same drivers. */
  nodeLocal: NodeLocalSwarmNetworks;
}

const readProc = (name: string) => readFile(`/proc/self/net/${name}`, 'utf8').catch(() => '');

/** The drivers, the stored networks replayed into them, and the containers' attach point. */
export async function openLocalNetworks(
  opts: DaemonOptions,
  images: ImageService,
  log: Logger,
  swarm?: () => SwarmNetworks | undefined,
  /** The node's id in its swarm, undefined outside one: the gateway bridge is listed while it has one. */
  swarmNodeId: () => string | undefined = () => undefined,
  /** The swarm networks made `--config-from` the config-only network of this name. */
  configUsers?: (configName: string) => Promise<string[]>,
): Promise<NodeLocalNetworks> {
  const netLog = log.child({ component: 'local-networks' });
  const drivers = nodeDrivers({ prefix: opts.netnsPrefix, log: netLog });
  const bridge = drivers.get('bridge') as BridgeDriver;
  // Only the real runtime has the network plane that makes the device; a simulated executor's node has
  // none to describe. `created`: when this daemon first saw the node in that swarm.
  let seen: { nodeId: string; record: LocalNetworkRecord } | undefined;
  const gateway = (nodeId: string | undefined) => {
    if (!nodeId || opts.executor !== 'runtime') return undefined;
    if (seen?.nodeId !== nodeId)
      seen = { nodeId, record: gatewayBridgeRecord(opts.netnsPrefix, nodeId, new Date().toISOString()) };
    return seen.record;
  };
  const networks = new LocalNetworks({
    store: new LocalNetworkStore(join(opts.dataRoot, 'networks', 'local')),
    drivers,
    nodeSubnets: () => bridge.nodeSubnets(),
    defaultBridge: opts.defaultBridge,
    log: netLog,
    swarmGateway: () => gateway(swarmNodeId()),
    ...(configUsers ? { configUsers } : {}),
  });
  await networks.open();
  const attach = new CnmContainerNetworks({
    networks,
    drivers,
    ...(swarm ? { swarm } : {}),
    exposedPorts: async (image) =>
      Object.keys((await images.config(image)).config.config?.ExposedPorts ?? {}),
    listeningPorts: async () =>
      listeningPorts(
        await Promise.all([readProc('tcp'), readProc('tcp6')]),
        await Promise.all([readProc('udp'), readProc('udp6')]),
      ),
  });
  // The same drivers as the local networks: a parent taken by one is taken for the other (Docker's rule).
  const nodeLocal = new NodeLocalSwarmNetworks({
    drivers,
    localNetworks: () => networks.list(),
    log: log.child({ component: 'node-local-networks' }),
  });
  return { networks, attach, bridge, nodeLocal };
}

type NetworkUnary = Pick<
  LocalUnaryHandlers,
  'LocalNetworkCreate' | 'LocalNetworkList' | 'LocalNetworkInspect' | 'LocalNetworkRemove'
>;

function status(code: grpc.status, message: string): grpc.ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}

async function refusing<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof NetworkDriverError)) throw toStatus(err);
    const m = err.message;
    const code = /not found/.test(m)
      ? grpc.status.NOT_FOUND
      : /^(invalid|unknown|subnet .* too small|gateway|ip range|address|--gateway)/.test(m)
        ? grpc.status.INVALID_ARGUMENT
        : grpc.status.FAILED_PRECONDITION;
    throw status(code, m);
  }
}

export function localNetworkHandlers(local: NodeLocalNetworks, engine: () => ContainerEngine): NetworkUnary {
  const { networks, attach, bridge } = local;
  const nameOf = (id: string) =>
    engine()
      .list(true)
      .find((c) => c.id === id)?.name;
  const wire = (r: LocalNetworkRecord): LocalNetwork => ({
    id: r.id,
    name: r.name,
    driver: r.driver,
    created: r.created,
    subnets: r.subnets.map((s) => ({ subnet: s.subnet, gateway: s.gateway, ipRange: s.ipRange ?? '' })),
    internal: r.internal,
    options: r.options,
    configOnly: r.configOnly === true,
    containers: engine()
      .list(true)
      .flatMap((c) => (c.networks ?? []).filter((s) => s.networkId === r.id).map((s) => ({ c, s })))
      .map(({ c, s }) => ({ id: c.id, name: c.name, ipv4Address: s.address, macAddress: s.macAddress })),
  });
  const find = (ref: string) => {
    const r = networks.find(ref);
    if (!r) throw new NetworkDriverError(`network ${ref} not found`);
    return r;
  };
  return {
    LocalNetworkCreate: (req) =>
      refusing(async () => {
        const r = await networks.create({
          name: req.name,
          driver: req.driver || 'bridge',
          ...(req.subnet ? { subnet: req.subnet } : {}),
          ...(req.gateway ? { gateway: req.gateway } : {}),
          ...(req.ipRange ? { ipRange: req.ipRange } : {}),
          internal: req.internal,
          options: { ...req.options },
          ...(req.configOnly ? { configOnly: true } : {}),
        });
        return { network: wire(r) };
      }),
    LocalNetworkList: () => refusing(() => ({ networks: networks.list().map(wire) })),
    LocalNetworkInspect: (req) =>
      refusing(async () => {
        const r = find(req.ref);
        // The gateway bridge's device is the overlay driver's: the bridge driver programmed none of it.
        if (!req.verbose || r.driver !== 'bridge' || networks.isSwarmGateway(r))
          return { network: wire(r), programmedJson: '' };
        // Who each leg leads into: the endpoint id a container's record keeps (its own id when absent).
        const owners = new Map(
          engine()
            .list(true)
            .flatMap((c) =>
              (c.networks ?? [])
                .filter((s) => s.networkId === r.id)
                .map((s) => [s.endpointId ?? c.id, { id: c.id, name: c.name }] as const),
            ),
        );
        const programmed = await bridge.programmed(r.id, owners);
        return { network: wire(r), programmedJson: JSON.stringify(programmed) };
      }),
    LocalNetworkRemove: (req) =>
      refusing(async () => ({
        network: wire(await networks.remove(req.ref, (id) => attach.usersOf(id, nameOf))),
      })),
  };
}
