// The daemon's task executor: the real runtime (worker/exec), or the simulated one for control-plane
// tests and benchmarks (`--executor simulated`).
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from '../lib/log.js';
import { swarmliteBin } from '../lib/repo.js';
import type { Executor } from '../worker/agent/executor.js';
import { SimulatedExecutor } from '../worker/agent/simulated-executor.js';
import { TaskRuntime } from '../worker/exec/runtime.js';
import type { ImageSource } from '../worker/exec/task-bundle.js';
import type { DaemonOptions } from './options.js';

export function createExecutor(opts: DaemonOptions, _log: Logger, images?: ImageSource): Executor {
  if (opts.executor === 'simulated') return new SimulatedExecutor();
  return taskRuntime(opts.dataRoot, opts.execRoot, opts.netnsPrefix, hostname(), images);
}

/** The runtime of a daemon's data root and prefix (also what `lab down` clears after the daemon). */
export function taskRuntime(
  dataRoot: string,
  execRoot: string,
  prefix: string,
  nodeHostname: string,
  images?: ImageSource,
): TaskRuntime {
  // Tasks under the data root, not the exec root: a restarted daemon must find its tasks to adopt
  // them. runc's state under the exec root (a tmpfs), gone with a reboot as the containers are.
  return runtimeAt(
    { root: join(dataRoot, 'tasks'), ociRoot: join(execRoot, 'runc'), prefix },
    dataRoot,
    nodeHostname,
    images,
  );
}

/**
 * The runtime of the node's standalone containers: a task runtime of its own (folders, runc state and
 * the `<prefix>c` names of namespaces and cgroups apart from the swarm's tasks, so neither cleans up
 * the other's), on the same images and isolation.
 */
export function containerRuntime(
  dataRoot: string,
  execRoot: string,
  prefix: string,
  nodeHostname: string,
  images?: ImageSource,
): TaskRuntime {
  const where = {
    root: join(dataRoot, 'containers', 'run'),
    ociRoot: join(execRoot, 'runc-containers'),
    prefix: `${prefix}c`,
  };
  return runtimeAt(where, dataRoot, nodeHostname, images);
}

function runtimeAt(
  where: { root: string; ociRoot: string; prefix: string },
  dataRoot: string,
  nodeHostname: string,
  images: ImageSource | undefined,
): TaskRuntime {
  return new TaskRuntime({
    ...where,
    volumesRoot: join(dataRoot, 'volumes'),
    nodeHostname,
    swarmliteBinDir: dirname(swarmliteBin()),
    ...(images ? { images } : {}),
  });
}
