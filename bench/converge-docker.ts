// Docker Swarm's figure for bench:converge, measured in the same run: a single-node swarm (Debian's
// docker.io in a namespace of its own, bench/docker-peer.ts) running the same number of replicas of
// the same busybox image, from `docker service create` until every task runs, then `scale → 0` until
// no container runs (grace period 0 s on both sides).
import { startDockerPeer } from './docker-peer.js';
import type { BenchImage } from './busybox-image.js';
import { machineTicks, quiet, TICKS_PER_S, until } from './machine.js';

export interface DockerPhase {
  upMs: number;
  downMs: number;
  upCpuS: number;
  version: string;
  waited: string;
}

interface DockerTask {
  Status: { State: string };
}

/** Docker's figures take tens of seconds: a quarter second is resolution enough and costs it nothing. */
const POLL_MS = 250;

export async function dockerConverge(image: BenchImage, replicas: number): Promise<DockerPhase> {
  const peer = await startDockerPeer();
  try {
    const version = (await peer.docker(['version', '--format', '{{.Server.Version}}'])).trim();
    await peer.docker(['swarm', 'init', '--advertise-addr', peer.address]);
    await peer.docker(['load', '-i', image.file]);
    const running = async () => {
      const filters = encodeURIComponent(
        JSON.stringify({ service: ['bench'], 'desired-state': ['running'] }),
      );
      const tasks = await peer.get<DockerTask[]>(`/tasks?filters=${filters}`);
      return tasks.filter((t) => t.Status.State === 'running').length;
    };
    const waited = await quiet();
    const t0 = performance.now();
    const cpu0 = machineTicks().busy;
    // By image ID, not tag: by tag each task would first ask Docker Hub for the tag (no route here).
    await peer.docker([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      'bench',
      '--replicas',
      String(replicas),
      // As on swarmlite's side: `sleep` as a container's pid 1 ignores SIGTERM, and the scale-down
      // would time the 10 s default grace period instead of the teardown.
      '--stop-grace-period',
      '0s',
      image.id,
      'sleep',
      'infinity',
    ]);
    await until(
      `${replicas} Docker tasks running`,
      async () => (await running()) === replicas,
      POLL_MS,
      300_000,
    );
    const upMs = performance.now() - t0;
    const upCpuS = (machineTicks().busy - cpu0) / TICKS_PER_S;
    const t1 = performance.now();
    await peer.docker(['service', 'scale', '--detach', 'bench=0']);
    await until(
      'no Docker container running',
      async () => (await running()) === 0 && (await peer.get<unknown[]>('/containers/json')).length === 0,
      POLL_MS,
      300_000,
    );
    return { upMs, downMs: performance.now() - t1, upCpuS, version, waited };
  } finally {
    await peer.stop();
  }
}
