// The rules a network or service spec must pass before anything is proposed, so a bad spec is one
// clear error at the API and never an object the allocator, scheduler or orchestrator chokes on.
// Stateless rules first (validate*), then rules against the store, run inside the write transaction.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';
import { validateNetworkSpec, validatePortSpecs } from '../allocator/index.js';
import { overlaps, parseCidr, type Cidr } from '../../lib/ipv4.js';
import { portName } from '../allocator/ports.js';
import { ConstraintError, parseConstraints } from '../scheduler/index.js';
import type { ReadTx } from '../store/index.js';
import {
  checkNetworkOptions,
  isNodeLocalNetwork,
  type NetworkSpec,
  type Resources,
  type ServiceSpec,
  type SwarmObjects,
} from '../../api/objects/index.js';
import { checkTaskDns } from '../../api/task-dns.js';
import { checkMounts } from '../../api/container-options.js';
import { checkImage, checkTemplate } from '../../api/task-templates.js';
import { isDnsName } from '../../lib/dns-name.js';
import { lookupNetwork } from './lookup-services.js';
import { invalid } from './wire-values.js';

/** Docker's rule for service (and here network) names. */
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_NAME_LENGTH = 63;

function checkName(kind: 'service' | 'network', name: string): void {
  if (!name) throw invalid(`a ${kind} name is required`);
  if (name.length > MAX_NAME_LENGTH) {
    throw invalid(`${kind} name "${name}" is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (!NAME_PATTERN.test(name)) {
    throw invalid(
      `invalid ${kind} name "${name}": use letters, digits, '_', '.' and '-', starting with a letter or digit`,
    );
  }
}

export function validateNetwork(spec: NetworkSpec): void {
  checkName('network', spec.name);
  if (spec.ingress) {
    // The routing mesh's network is made with the swarm and never replaced (RemoveNetwork refuses it).
    throw invalid('the ingress network is created with the swarm: another one cannot be created');
  }
  const problem = validateNetworkSpec(spec) ?? checkNetworkOptions(spec.options, spec.driver);
  if (problem) throw invalid(problem);
  const mtu = spec.options.mtu;
  if (mtu !== undefined && !(/^\d+$/.test(mtu) && Number(mtu) >= 68 && Number(mtu) <= 65_535)) {
    throw invalid(`invalid mtu option "${mtu}": use a number between 68 and 65535`);
  }
}

/**
 * The network's user subnets must not overlap any other network's, allocated or not: the allocator's
 * state only knows allocated networks, and one created a moment ago may not be yet.
 */
export function checkSubnetsFree(tx: ReadTx<SwarmObjects>, spec: NetworkSpec): void {
  // A node-local network's subnet is each node's wire (or its own bridge): it may well be the same on
  // several networks and is no overlay's business, so it is neither checked nor counted.
  if (isNodeLocalNetwork(spec)) return;
  const others = tx
    .list('network')
    .filter((n) => !isNodeLocalNetwork(n.spec))
    .flatMap((n) =>
      [...n.spec.ipam, ...n.ipam].flatMap((c) => {
        const cidr = parseCidr(c.subnet);
        return typeof cidr === 'string' ? [] : [{ cidr, name: n.spec.name }];
      }),
    );
  for (const config of spec.ipam) {
    const mine = parseCidr(config.subnet) as Cidr; // validateNetworkSpec parsed it already
    const clash = others.find((o) => overlaps(o.cidr, mine));
    if (clash) {
      throw new GrpcError(
        grpc.status.FAILED_PRECONDITION,
        `subnet ${config.subnet} overlaps subnet ${clash.cidr.text} of network ${clash.name}`,
      );
    }
  }
}

function checkResources(spec: ServiceSpec): void {
  const { limits, reservations } = spec.task.resources;
  const names: [keyof Resources, string][] = [
    ['nanoCpus', 'CPU'],
    ['memoryBytes', 'memory'],
  ];
  for (const [key, label] of names) {
    if (limits[key] > 0 && reservations[key] > limits[key]) {
      throw invalid(
        `the ${label} reservation (${reservations[key]}) is more than its limit (${limits[key]})`,
      );
    }
  }
}

export function validateService(spec: ServiceSpec): void {
  checkName('service', spec.name);
  if (!spec.task.image) throw invalid(`service ${spec.name} needs an image`);
  const problem =
    checkImage(spec.task.image) ??
    checkTemplate('--hostname', spec.task.hostname) ??
    checkTemplate('--workdir', spec.task.workdir) ??
    spec.task.env.map((e) => checkTemplate('--env', e)).find((p) => p !== undefined);
  if (problem) throw invalid(problem);
  for (const e of spec.task.env) {
    if (e === '' || e.startsWith('=')) throw invalid(`invalid environment variable "${e}": use KEY=VALUE`);
  }
  checkResources(spec);
  const constraints = parseConstraints(spec.task.placement.constraints);
  if (constraints instanceof ConstraintError) throw invalid(constraints.message);
  const ports = validatePortSpecs(spec.endpoint.ports, spec.endpoint.mode);
  if (ports) throw invalid(ports);
  for (const n of spec.task.networks) {
    if (!n.target) throw invalid('a network attachment needs a network name or id');
    for (const a of n.aliases)
      if (!isDnsName(a))
        throw invalid(`invalid network alias "${a}": use a DNS name such as db or db.internal`);
  }
  // Refused here, not when each task is prepared: a stored bad value would fail every task of it.
  const dns = checkTaskDns(spec.task.dns);
  if (dns) throw invalid(dns);
  const mounts = checkMounts(spec.task.mounts ?? []);
  if (mounts) throw invalid(mounts);
}

/**
 * The spec with every attachment's target resolved to its network's id (the user may name it by id,
 * id prefix or name). Unknown → NOT_FOUND; the ingress network is refused (publishing a port in ingress
 * mode attaches it); two attachments to one network are refused.
 */
export function resolveNetworks(tx: ReadTx<SwarmObjects>, spec: ServiceSpec): ServiceSpec {
  const seen = new Set<string>();
  const networks = spec.task.networks.map((attachment) => {
    const network = lookupNetwork(tx, attachment.target);
    if (!network) throw new GrpcError(grpc.status.NOT_FOUND, `network ${attachment.target} not found`);
    if (network.spec.ingress) {
      throw invalid(
        `service ${spec.name} cannot attach to the ingress network ${network.spec.name}: publish a port in ingress mode instead`,
      );
    }
    if (seen.has(network.id)) throw invalid(`network ${network.spec.name} is attached more than once`);
    seen.add(network.id);
    return { ...attachment, target: network.id };
  });
  return { ...spec, task: { ...spec.task, networks } };
}

/**
 * Explicit ingress ports must not be published by another service's spec. The allocator's state only
 * knows allocated services; this also sees one created a moment ago and not allocated yet.
 */
export function checkPortsFree(tx: ReadTx<SwarmObjects>, serviceId: string, spec: ServiceSpec): void {
  const explicit = (s: ServiceSpec) =>
    s.endpoint.ports.filter((p) => p.publishMode === 'ingress' && p.publishedPort !== 0).map(portName);
  const wanted = new Set(explicit(spec));
  if (wanted.size === 0) return;
  for (const other of tx.list('service')) {
    if (other.id === serviceId) continue;
    const taken = explicit(other.spec).find((p) => wanted.has(p));
    if (taken) {
      throw new GrpcError(
        grpc.status.FAILED_PRECONDITION,
        `port ${taken} is already published by service ${other.spec.name}`,
      );
    }
  }
}
