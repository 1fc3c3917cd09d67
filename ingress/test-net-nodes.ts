// For the client-address test: two "nodes" as the routing mesh really lays them out, one task each.
//
//   client 198.19.X.100 ── underlay switch ──┬── node1 198.19.X.1 ── gwbr 172.30.0.1 ─┬─ sandbox1 .2
//                                             └── node2 198.19.X.2 ── gwbr 172.30.0.1 ─┼─ sandbox2 .2
//                                                                                      └─ task j .10+j
//   sandbox1 10.201.0.2, sandbox2 10.201.0.3, task1 10.201.0.11, task2 10.201.0.12: the "ingress
//   overlay", one L2 switch (a bridge standing in for VXLAN, which also keeps source MACs).
//
// As on a real node, every gateway bridge has the same addresses (172.30.0.0/24 here), each task's
// default route is its own node's gateway bridge, and each sandbox's is its node. The sandboxes'
// overlay MACs are the overlay driver's (02:42 + the address). Servers on 8080 answer
// `<task name> <the client address they see>`. Everything is named after the lab's random tag.
import { run } from '../lib/exec.js';
import { addSwitch, plug } from '../lib/netns-fixture.js';
import { macFromIp } from '../worker/network/overlay/names.js';
import { NetnsLab } from './test-net.js';

const OVERLAY_SUBNET = '10.201.0';
export const WHOAMI_PORT = 8080;
const GATEWAY = '172.30.0.1';
/** Each sandbox's leg on its node's gateway bridge: what the node's publish table DNATs to. */
export const SANDBOX_GATEWAY_ADDRESS = '172.30.0.2';

const WHOAMI = `
const name = process.argv[1];
require('node:http')
  .createServer((q, s) => s.end(name + ' ' + q.socket.remoteAddress))
  .listen(${WHOAMI_PORT}, '0.0.0.0', () => console.log('ready'));
`;

export interface LabNode {
  netns: string;
  /** Where published ports answer. */
  address: string;
  sandbox: { netns: string; ingressAddress: string };
}

export interface LabTask {
  netns: string;
  name: string;
  /** Its address on the ingress overlay, on `ingressDevice`. */
  ingressAddress: string;
  ingressDevice: string;
}

export class TwoNodeMeshNet extends NetnsLab {
  readonly client = `${this.tag}-client`;
  readonly clientAddress = `${this.underlay}.100`;
  private readonly underlaySwitch = `${this.tag}-ul`;
  private readonly overlaySwitch = `${this.tag}-ov`;
  readonly nodes: LabNode[] = [];
  readonly tasks: LabTask[] = [];

  /** A veth from a switch (bridge `br0` in `switchNs`) into `netns` as `ifname`. */
  private async plug(switchNs: string, port: string, netns: string, ifname: string, mac?: string) {
    await plug({ switchNetns: switchNs, bridge: 'br0', port, netns, ifName: ifname, mac });
  }

  private async addSwitch(netns: string, address?: string): Promise<void> {
    await addSwitch(netns, 'br0', address);
  }

  private async addr(netns: string, cidr: string, dev: string): Promise<void> {
    await run('ip', ['-n', netns, 'addr', 'add', cidr, 'dev', dev]);
  }

  async build(): Promise<void> {
    await this.addSwitch(this.underlaySwitch);
    await this.addSwitch(this.overlaySwitch);
    await this.addNetns(this.client);
    await this.plug(this.underlaySwitch, 'client', this.client, 'eth0');
    await this.addr(this.client, `${this.clientAddress}/24`, 'eth0');
    const ready: Promise<void>[] = [];
    for (const i of [1, 2]) {
      // The node: underlay leg, and its gateway bridge (a node namespace is itself the "switch").
      const node = `${this.tag}-n${i}`;
      await this.addSwitch(node, `${GATEWAY}/24`);
      await this.plug(this.underlaySwitch, `n${i}`, node, 'eth0');
      await this.addr(node, `${this.underlay}.${i}/24`, 'eth0');
      await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'], { netns: node });
      // Its ingress sandbox: gateway-bridge leg (default route) and overlay leg.
      const sandbox = { netns: `${this.tag}-s${i}`, ingressAddress: `${OVERLAY_SUBNET}.${1 + i}` };
      await this.addNetns(sandbox.netns);
      await this.plug(node, 'sbx', sandbox.netns, 'eth0');
      await this.addr(sandbox.netns, `${SANDBOX_GATEWAY_ADDRESS}/24`, 'eth0');
      await run('ip', ['-n', sandbox.netns, 'route', 'add', 'default', 'via', GATEWAY]);
      await this.plug(this.overlaySwitch, `s${i}`, sandbox.netns, 'eth1', macFromIp(sandbox.ingressAddress));
      await this.addr(sandbox.netns, `${sandbox.ingressAddress}/16`, 'eth1');
      await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'], { netns: sandbox.netns });
      this.nodes.push({ netns: node, address: `${this.underlay}.${i}`, sandbox });
      // One task on this node: overlay leg (the ingress interface) and gateway-bridge leg.
      const task: LabTask = {
        netns: `${this.tag}-t${i}`,
        name: `task${i}`,
        ingressAddress: `${OVERLAY_SUBNET}.${10 + i}`,
        ingressDevice: 'eth0',
      };
      await this.addNetns(task.netns);
      await this.plug(this.overlaySwitch, `t${i}`, task.netns, 'eth0', macFromIp(task.ingressAddress));
      await this.addr(task.netns, `${task.ingressAddress}/16`, 'eth0');
      await this.plug(node, `t${i}`, task.netns, 'eth1');
      await this.addr(task.netns, `172.30.0.${10 + i}/24`, 'eth1');
      await run('ip', ['-n', task.netns, 'route', 'add', 'default', 'via', GATEWAY]);
      this.tasks.push(task);
      ready.push(this.startReady(task.netns, WHOAMI, [task.name]));
    }
    await Promise.all(ready);
  }
}
