// `host`: the container shares the node's network namespace. The runtime makes no namespace for it
// (capabilities.namespace = 'node'); join checks that it was handed the node's own namespace and
// plugs nothing in, so the container sees the node's interfaces, addresses and ports as they are.
import { statSync } from 'node:fs';
import { NetworkDriverError, type DriverCapabilities, type Sandbox } from '../driver.js';
import { SingleNetworkDriver } from '../single-network.js';

export interface HostDriverOptions {
  /** The node's namespace file; default the daemon's own (`/proc/<pid>/ns/net`). */
  nodeNetnsPath?: string;
}

/** Two namespace files name the same namespace when they are the same inode on the same nsfs device. */
function sameNamespace(a: string, b: string): boolean {
  const x = statSync(a);
  const y = statSync(b);
  return x.dev === y.dev && x.ino === y.ino;
}

export class HostDriver extends SingleNetworkDriver {
  readonly name = 'host';
  readonly capabilities: DriverCapabilities = {
    scope: 'local',
    namespace: 'node',
    exclusive: true,
    addressed: false,
  };
  protected readonly networkName = 'host';
  private readonly nodeNetnsPath: string;

  constructor(opts: HostDriverOptions = {}) {
    super();
    this.nodeNetnsPath = opts.nodeNetnsPath ?? `/proc/${process.pid}/ns/net`;
  }

  protected async plug(sandbox: Sandbox): Promise<void> {
    if (!sameNamespace(sandbox.netnsPath, this.nodeNetnsPath)) {
      throw new NetworkDriverError(
        `container ${sandbox.id} on the host network must run in the node's network namespace, not ${sandbox.netnsPath}`,
      );
    }
  }
}
