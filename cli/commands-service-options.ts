// The flags `service create` and `service update` share, declared once so their spellings and help
// cannot drift apart. They carry no commander defaults: an absent flag is undefined, which is how
// update knows to leave a field alone and create knows to keep Docker's default.
import type { Command } from 'commander';

export function addSharedSpecOptions(cmd: Command): Command {
  for (const prefix of ['update', 'rollback'] as const) {
    const what = prefix === 'update' ? 'an update' : 'a rollback';
    cmd
      .option(`--${prefix}-parallelism <n>`, `tasks changed at once in ${what} (0: all)`)
      .option(`--${prefix}-delay <duration>`, `wait between batches of ${what}`)
      .option(`--${prefix}-order <order>`, `stop-first or start-first in ${what}`)
      .option(
        `--${prefix}-failure-action <action>`,
        prefix === 'update' ? 'pause, continue or rollback' : 'pause or continue',
      )
      .option(`--${prefix}-monitor <duration>`, `how long after each task ${what} watches for failure`)
      .option(`--${prefix}-max-failure-ratio <ratio>`, `failures tolerated in ${what} (0-1)`);
  }
  return cmd
    .option('--replicas <n>', 'number of tasks')
    .option('-w, --workdir <dir>', 'working directory inside the task')
    .option('-u, --user <user>', 'user[:group] the task runs as')
    .option('--hostname <name>', 'task hostname (templates like {{.Node.Hostname}} allowed)')
    .option('--limit-memory <bytes>', 'memory limit (512m, 1g, ...)')
    .option('--reserve-memory <bytes>', 'memory reserved on the node')
    .option('--limit-cpu <cpus>', 'CPU limit (e.g. 0.5)')
    .option('--reserve-cpu <cpus>', 'CPUs reserved on the node')
    .option('--restart-condition <condition>', 'none, on-failure or any')
    .option('--restart-delay <duration>', 'wait between restarts')
    .option('--restart-max-attempts <n>', 'restarts before giving up (0: unlimited)')
    .option('--restart-window <duration>', 'window in which restarts are counted')
    .option('--endpoint-mode <mode>', 'vip or dnsrr')
    .option('--stop-grace-period <duration>', 'time to wait before killing a stopping task')
    .option('-d, --detach', 'return at once instead of showing progress until the service converges')
    .option('-q, --quiet', 'suppress progress output');
}
