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
  return new TaskRuntime({
    // Under the data root, not the exec root: a restarted daemon must find its tasks to adopt them.
    root: join(dataRoot, 'tasks'),
    // runc's state of the containers: under the exec root (a tmpfs), gone with a reboot as they are.
    ociRoot: join(execRoot, 'runc'),
    volumesRoot: join(dataRoot, 'volumes'),
    prefix,
    nodeHostname,
    swarmliteBinDir: dirname(swarmliteBin()),
    ...(images ? { images } : {}),
  });
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
  return new TaskRuntime({
    root: join(dataRoot, 'containers', 'run'),
    ociRoot: join(execRoot, 'runc-containers'),
    volumesRoot: join(dataRoot, 'volumes'),
    prefix: `${prefix}c`,
    nodeHostname,
    swarmliteBinDir: dirname(swarmliteBin()),
    ...(images ? { images } : {}),
  });
}
