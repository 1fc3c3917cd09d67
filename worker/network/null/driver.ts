// `none` (Docker's `null` driver): the container keeps a network namespace of its own with only `lo`.
// Join brings lo up (a fresh namespace has it down) and plugs nothing else in.
import { requireTools } from '../../../lib/exec.js';
import { cmd, inSandbox, runCommand } from '../commands.js';
import type { DriverCapabilities, Sandbox } from '../driver.js';
import { SingleNetworkDriver } from '../single-network.js';

export class NullDriver extends SingleNetworkDriver {
  readonly name = 'null';
  readonly capabilities: DriverCapabilities = {
    scope: 'local',
    namespace: 'own',
    exclusive: true,
    addressed: false,
  };
  protected readonly networkName = 'none';

  constructor() {
    super();
    requireTools(['ip', 'nsenter']);
  }

  protected async plug(sandbox: Sandbox): Promise<void> {
    await runCommand(cmd('ip', inSandbox(sandbox.netnsPath), 'link', 'set', 'lo', 'up'));
  }
}
