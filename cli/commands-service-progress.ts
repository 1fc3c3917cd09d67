// The thin shell around service-progress.ts: polls the service and its tasks about five times a
// second, draws each frame, and ends when the model says converged (exit 0), pending (tasks cannot be
// placed now: the reason on stderr, exit 0, the service stays as Docker keeps it) or failed (one
// line, exit 1). Everything worth testing lives in the pure model.
import { UserError } from '../lib/errors.js';
import type { LocalCalls } from '../daemon/client.js';
import { progressStep, renderFrame, type Goal, type ProgressMemory } from './service-progress.js';
import { isGlobal, nodeName, serviceView, taskView, type NodeName, type ServiceView } from './objects.js';

export const POLL_INTERVAL_MS = 200;
/** Global services follow nodes joining and leaving: hostnames are re-read this often. */
const NODE_REFRESH_MS = 2_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function followProgress(
  calls: LocalCalls,
  ref: string,
  goal: Goal,
  opts: { quiet: boolean; baseline: ServiceView['updateStatus']; out?: NodeJS.WriteStream },
): Promise<void> {
  const out = opts.out ?? process.stdout;
  const tty = out.isTTY === true;
  let memory: ProgressMemory = new Map();
  let previous: string[] = [];
  const printed = new Set<string>();
  let nodes: NodeName[] = [];
  let nodesReadAt = -Infinity;
  // ^C stops watching, not the change: the leader carries on, as Docker says.
  let interrupted = false;
  const onInterrupt = () => (interrupted = true);
  process.once('SIGINT', onInterrupt);
  try {
    for (;;) {
      const service = serviceView((await calls.getService({ ref })).service);
      const tasks = (await calls.listTasks({ service: service.id })).tasks.map(taskView);
      let globalDesired = 0;
      if (isGlobal(service.spec)) {
        const { services } = await calls.listServices({});
        globalDesired = services.find((e) => e.service?.id === service.id)?.desired ?? 0;
      }
      if (Date.now() - nodesReadAt >= NODE_REFRESH_MS && (isGlobal(service.spec) || nodes.length === 0)) {
        nodes = (await calls.listNodes({})).nodes.map(nodeName);
        nodesReadAt = Date.now();
      }
      const view = progressStep(
        memory,
        { service, tasks, nodes, globalDesired, baseline: opts.baseline, now: Date.now() },
        goal,
      );
      memory = view.memory;
      if (!opts.quiet) out.write(renderFrame(previous, view.lines, tty, printed));
      previous = view.lines;
      if (view.verdict.kind === 'converged') return;
      if (view.verdict.kind === 'failed') throw new UserError(view.verdict.message);
      if (view.verdict.kind === 'pending') {
        process.stderr.write(
          `tasks pending: ${view.verdict.message}\n` +
            `The change is kept: tasks start once a node fits. Use 'swarmlite service ps ${ref}' to follow them.\n`,
        );
        return;
      }
      if (interrupted) {
        out.write(
          `Operation continuing in background.\nUse 'swarmlite service ps ${ref}' to check progress.\n`,
        );
        return;
      }
      await sleep(POLL_INTERVAL_MS);
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
