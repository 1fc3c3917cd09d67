// The node's side of the `endpoints` gossip table: it announces its own running tasks and reads
// everyone's, per network, for the embedded DNS and the load balancers. The overlay agent has already
// joined a task's networks in gossip by the time the task runs (its legs exist before its process), so
// announcing never races the join; a withdrawal comes before the task's legs or networks go.
import type { Logger } from '../../lib/log.js';
import type { Task } from '../../api/objects/index.js';
import type { GossipNode, GossipTableEvent } from '../gossip/node.js';
import { fullTaskName } from '../agent/task-runner.js';
import {
  decodeEndpoint,
  encodeEndpoint,
  ENDPOINTS_TABLE,
  type EndpointRecord,
  type EndpointSource,
} from './records.js';

const ipOf = (cidr: string) => cidr.split('/')[0]!;

/** What a running task announces: one record per network it has an address on. Pure. */
export function endpointRecords(task: Task): { networkId: string; record: EndpointRecord }[] {
  return task.networks
    .filter((a) => a.addresses[0])
    .map((a) => {
      const vip = task.endpoint.virtualIps.find((v) => v.networkId === a.networkId);
      return {
        networkId: a.networkId,
        record: {
          serviceId: task.serviceId,
          serviceName: task.serviceName,
          taskId: task.id,
          taskName: fullTaskName(task),
          nodeId: task.nodeId,
          ip: ipOf(a.addresses[0]!),
          vip: vip ? ipOf(vip.addr) : '',
          endpointMode: vip ? 'vip' : 'dnsrr',
          aliases: [...a.aliases],
          ports: task.endpoint.ports.map((p) => ({ ...p })),
        },
      };
    });
}

export class EndpointTable implements EndpointSource {
  /** Decoded records per network, dropped on every change of that network and rebuilt on read. */
  private readonly cache = new Map<string, readonly EndpointRecord[]>();
  private readonly listeners = new Set<(networkId: string) => void>();
  /** Task id → the networks it was announced on. */
  private readonly announced = new Map<string, string[]>();
  private readonly onTable = (e: GossipTableEvent) => {
    if (e.table === ENDPOINTS_TABLE) this.changed(e.network);
  };

  /**
   * @param inSubnets whether an address belongs to a network's subnets (the overlay knows them): a
   *   peer's record pointing anywhere else would send DNS clients and DNAT there, so it is ignored.
   */
  constructor(
    private readonly gossip: GossipNode,
    private readonly log: Logger,
    private readonly inSubnets: (networkId: string, ip: string) => boolean,
  ) {
    gossip.on('table', this.onTable);
  }

  /** The task runs: every node on its networks may now resolve it and send it connections. */
  announce(task: Task): void {
    const records = endpointRecords(task);
    const networks: string[] = [];
    for (const { networkId, record } of records) {
      try {
        this.gossip.setEntry(ENDPOINTS_TABLE, networkId, task.id, encodeEndpoint(record));
        networks.push(networkId);
      } catch (err) {
        // Not joined: the task has no leg on that network on this node (the overlay refused it).
        this.log.warn({ err, task: task.id, network: networkId }, 'endpoint not announced');
      }
      this.changed(networkId);
    }
    this.announced.set(task.id, networks);
  }

  /**
   * One record under its own key, outside any task (a standalone container on an attachable overlay,
   * keyed by its container id); `undefined` withdraws it. The node must be on the network in gossip.
   */
  setRecord(networkId: string, key: string, record: EndpointRecord | undefined): void {
    try {
      if (record) this.gossip.setEntry(ENDPOINTS_TABLE, networkId, key, encodeEndpoint(record));
      else this.gossip.deleteEntry(ENDPOINTS_TABLE, networkId, key);
    } catch (err) {
      this.log.debug({ err, key, network: networkId }, 'endpoint record not changed');
    }
    this.changed(networkId);
  }

  /** The task stops serving (told to stop, or exited): withdrawn at once, before anything else. */
  withdraw(taskId: string): void {
    const networks = this.announced.get(taskId);
    if (!networks) return;
    this.announced.delete(taskId);
    for (const networkId of networks) {
      try {
        this.gossip.deleteEntry(ENDPOINTS_TABLE, networkId, taskId);
      } catch (err) {
        this.log.debug({ err, task: taskId, network: networkId }, 'endpoint already gone');
      }
      this.changed(networkId);
    }
  }

  records(networkId: string): readonly EndpointRecord[] {
    let records = this.cache.get(networkId);
    if (records) return records;
    const decoded: EndpointRecord[] = [];
    for (const e of this.gossip.entries(ENDPOINTS_TABLE, networkId)) {
      const r = decodeEndpoint(e.value);
      // Only the node running a task may speak for it (gossip tells who wrote each entry), and only
      // with addresses of this network.
      const inNetwork = (ip: string) => this.inSubnets(networkId, ip);
      if (r && r.taskId === e.key && r.nodeId === e.owner && inNetwork(r.ip) && (!r.vip || inNetwork(r.vip)))
        decoded.push(r);
      else this.log.warn({ network: networkId, key: e.key, owner: e.owner }, 'ignoring a malformed endpoint');
    }
    records = decoded.sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
    this.cache.set(networkId, records);
    return records;
  }

  onChange(listener: (networkId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Gossip joined or left a network: what this node sees of it changed wholesale. */
  networkChanged(networkId: string): void {
    this.changed(networkId);
  }

  close(): void {
    this.gossip.off('table', this.onTable);
    this.listeners.clear();
  }

  private changed(networkId: string): void {
    this.cache.delete(networkId);
    for (const l of this.listeners) {
      try {
        l(networkId);
      } catch (err) {
        this.log.error({ err, network: networkId }, 'endpoint listener failed');
      }
    }
  }
}
