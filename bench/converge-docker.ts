// Docker Swarm's figure for bench:converge, measured in the same run: a single-node swarm (Debian's
// docker.io in a namespace of its own, bench/docker-peer.ts) running the same number of replicas of
// the same busybox image, from `docker service create` until every task runs, then `scale → 0` until
// no container runs (grace period 0 s on both sides).
import { startDockerPeer } from './docker-peer.js';
import type { BenchImage } from './busybox-image.js';
import { machineTicks, quiet, TICKS_PER_S, until } from './machine.js';
import { join } from 'node:path';
import { AccountingGroup, cgroupsDelta, childCgroupsCpuS, CPUACCT } from './task-cpu.js';

export interface DockerPhase {
  upMs: number;
  downMs: number;
  upCpuS: number;
  /** CPU of dockerd, containerd, the shims, runc and the containers while they came up, per task
   * (cpuacct, as swarmlite's in task-cpu.ts); undefined without cgroup v1 cpuacct. */
  cpuMsPerTask?: number;
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
  const groups: AccountingGroup[] = [];
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
    // Its processes in a cpuacct folder of the bench's own: what they start from now on is counted too.
    const group = AccountingGroup.available() ? new AccountingGroup(`swlbench-${peer.netns}`) : undefined;
    groups.push(...(group ? [group] : []));
    group?.enter(peer.processes());
    const containers = () => childCgroupsCpuS(join(CPUACCT, peer.cgroupParent));
    const waited = await quiet();
    const before = group && { group: group.cpuS(), containers: containers() };
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
    const ownCpuS =
      group && before
        ? group.cpuS() - before.group + cgroupsDelta(before.containers, containers())
        : undefined;
    const t1 = performance.now();
    await peer.docker(['service', 'scale', '--detach', 'bench=0']);
    await until(
      'no Docker container running',
      async () => (await running()) === 0 && (await peer.get<unknown[]>('/containers/json')).length === 0,
      POLL_MS,
      300_000,
    );
    return {
      upMs,
      downMs: performance.now() - t1,
      upCpuS,
      ...(ownCpuS !== undefined ? { cpuMsPerTask: (ownCpuS * 1000) / replicas } : {}),
      version,
      waited,
    };
  } finally {
    await peer.stop();
    for (const g of groups) g.remove();
  }
}
