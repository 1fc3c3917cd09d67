// Forming the lab's swarm: init on node1, join node2 ... nodeM as managers and the rest as workers,
// then wait until every node is Ready, exactly as a user would with the CLI on each host.
import { UserError } from '../../lib/errors.js';
import { withDaemon, type LocalCalls } from '../../daemon/client.js';
import type { LabHostState } from './state.js';

const onHost = <T>(host: LabHostState, fn: (calls: LocalCalls) => Promise<T>) =>
  withDaemon(`unix://${host.socket}`, fn);

export async function formSwarm(hosts: LabHostState[], managers: number, timeoutMs = 120_000): Promise<void> {
  const [first, ...rest] = hosts;
  if (!first) return;
  const init = await onHost(first, (c) =>
    c.init({ advertiseAddr: first.address, listenAddr: '0.0.0.0:2377' }, 60_000),
  );
  // Managers join one at a time: each must be a voter before the next changes the membership.
  for (const [i, host] of rest.entries()) {
    const asManager = i + 2 <= managers;
    const token = asManager ? init.managerToken : init.workerToken;
    await onHost(host, (c) =>
      c.join(
        { token, remoteAddr: init.managerAddr, advertiseAddr: host.address, listenAddr: '0.0.0.0:2377' },
        60_000,
      ),
    );
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { nodes } = await onHost(first, (c) => c.listNodes({}, 60_000));
    const ready = nodes.filter((n) => n.status?.state === 'ready').length;
    if (ready === hosts.length) return;
    if (Date.now() > deadline) {
      throw new UserError(
        `the lab's swarm did not converge: ${ready} of ${hosts.length} nodes Ready after ${timeoutMs} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
