// Docker's embedded DNS as a fourth server for bench:dns, the peer users would otherwise have: a
// one-node Docker swarm (bench/docker-peer.ts), an overlay network, a service `web` with two tasks on
// it and a `client` task on it too. dockerd answers `web` with the service's VIP at 127.0.0.11 inside
// the client task's network namespace, which the bench names (`ip netns attach`) so its generators run
// there as they run in its own namespace for the other servers. The server's CPU is dockerd's.
import { run } from '../../lib/exec.js';
import { processCpuSeconds } from '../../lib/process.js';
import { startDockerPeer, type DockerPeer } from '../docker-peer.js';
import type { BenchImage } from '../busybox-image.js';
import { until } from '../machine.js';

export interface DockerDns {
  /** The client task's network namespace, named in /run/netns for the generators. */
  netns: string;
  /** What dockerd answers for the name: the service's VIP on the overlay. */
  vip: string;
  version: string;
  /** dockerd's CPU seconds so far. */
  cpu(): number;
  stop(): Promise<void>;
}

interface DockerTask {
  Status: { State: string; ContainerStatus?: { PID?: number } };
}

interface DockerService {
  Endpoint?: { VirtualIPs?: Array<{ NetworkID: string; Addr: string }> };
}

const NETWORK = 'benchnet';

async function runningTasks(peer: DockerPeer, service: string): Promise<DockerTask[]> {
  const filters = encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }));
  return (await peer.get<DockerTask[]>(`/tasks?filters=${filters}`)).filter(
    (t) => t.Status.State === 'running',
  );
}

/** Starts the peer and its services; `name` is the service name the bench queries. */
export async function startDockerDns(image: BenchImage, name: string): Promise<DockerDns> {
  const peer = await startDockerPeer();
  const netns = `${peer.netns}-task`;
  const stop = async () => {
    await run('ip', ['netns', 'del', netns], { okIfAbsent: true });
    await peer.stop();
  };
  try {
    const version = (await peer.docker(['version', '--format', '{{.Server.Version}}'])).trim();
    await peer.docker(['swarm', 'init', '--advertise-addr', peer.address]);
    await peer.docker(['load', '-i', image.file]);
    const networkId = (await peer.docker(['network', 'create', '--driver', 'overlay', NETWORK])).trim();
    // By image ID: by tag each task would first ask Docker Hub for it (there is no route to it here).
    const service = (svc: string, replicas: number) =>
      peer.docker([
        'service',
        'create',
        '--detach',
        '--no-resolve-image',
        '--name',
        svc,
        '--network',
        NETWORK,
        '--replicas',
        String(replicas),
        // `sleep` as pid 1 ignores SIGTERM: no 10 s wait for it when dockerd stops.
        '--stop-grace-period',
        '0s',
        image.id,
        'sleep',
        'infinity',
      ]);
    await service(name, 2);
    await service('client', 1);
    let pid: number | undefined;
    await until(
      'the Docker services running',
      async () => {
        const client = await runningTasks(peer, 'client');
        pid = client[0]?.Status.ContainerStatus?.PID;
        return pid !== undefined && pid > 0 && (await runningTasks(peer, name)).length === 2;
      },
      250,
      120_000,
    );
    await run('ip', ['netns', 'attach', netns, String(pid)]);
    const svc = await peer.get<DockerService>(`/services/${name}`);
    const vip = svc.Endpoint?.VirtualIPs?.find(
      (v) => networkId.startsWith(v.NetworkID) || v.NetworkID.startsWith(networkId),
    );
    if (!vip)
      throw new Error(`Docker gave service ${name} no VIP on ${NETWORK}: ${JSON.stringify(svc.Endpoint)}`);
    const cpu = () => {
      const s = processCpuSeconds(peer.pid);
      if (s === undefined) throw new Error('dockerd is gone');
      return s;
    };
    return { netns, vip: vip.Addr.split('/')[0]!, version, cpu, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
