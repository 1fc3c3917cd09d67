// `swarmlite lab ...`: one-machine clusters of network-namespace hosts (deploy/lab) or of QEMU/KVM
// VMs (deploy/vmlab), driven by the same verbs.
import { Command } from 'commander';
import { UserError } from '../../lib/errors.js';
import { parseMemory } from '../vmlab/plan.js';

// The lab's code (daemons, namespaces, VMs, certificates) is loaded by the verb that runs, not by every
// `swarmlite` command: on a busy 2-core machine each module compiled at startup is felt.
const loadLab = () => import('./lab.js');
import { parseFormat, printJson, renderTable } from '../../lib/format.js';

const DEFAULT_LAB = 'lab';

function parseCount(value: string, flag: string): number {
  if (!/^[0-9]+$/.test(value)) throw new UserError(`${flag} must be a whole number, got '${value}'`, 2);
  return Number(value);
}

export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .description('Build and drive a cluster of network-namespace hosts on this machine')
    .enablePositionalOptions();

  lab
    .command('up')
    .description(
      'Create a lab: a switch, N hosts (namespaces, or VMs with --vms) with their own daemons, the machine attached',
    )
    .option('--name <name>', 'lab name', DEFAULT_LAB)
    .option('--nodes <n>', 'number of namespace hosts (default 3)')
    .option('--vms <n>', 'number of QEMU/KVM VMs instead, each installed with deploy/install.sh')
    .option('--managers <m>', 'managers among them (node1 ... nodeM); 0: no swarm', '1')
    .option(
      '--registry',
      'an image registry in the lab: plain HTTP at 198.18.K.250:5000, named insecure to every daemon',
    )
    .option('--memory <size>', 'memory of each VM (--vms)', '1G')
    .option('--no-install', 'boot bare VMs: no swarmlite installed (--vms, with --managers 0)')
    .option('--accel <accel>', 'QEMU accelerator for --vms: auto, kvm or tcg', 'auto')
    .action(
      async (
        opts: {
          name: string;
          nodes?: string;
          vms?: string;
          managers: string;
          registry?: boolean;
          memory: string;
          install: boolean;
          accel: string;
        },
        cmd: Command,
      ) => {
        if (opts.nodes !== undefined && opts.vms !== undefined)
          throw new UserError('use --nodes (namespace hosts) or --vms (VMs), not both', 2);
        const vmOnly = ['memory', 'install', 'accel'].filter((o) => cmd.getOptionValueSource(o) === 'cli');
        if (opts.vms === undefined && vmOnly.length > 0)
          throw new UserError(`--${vmOnly[0] === 'install' ? 'no-install' : vmOnly[0]} needs --vms`, 2);
        const vms = opts.vms !== undefined;
        const { labUp } = await loadLab();
        const { DEFAULT_LAB_REGISTRY } = await import('./registry.js');
        const state = await labUp({
          name: opts.name,
          nodes: vms ? parseCount(opts.vms!, '--vms') : parseCount(opts.nodes ?? '3', '--nodes'),
          managers: parseCount(opts.managers, '--managers'),
          ...(opts.registry ? { registries: [DEFAULT_LAB_REGISTRY] } : {}),
          ...(vms
            ? { vms: { memoryMiB: parseMemory(opts.memory), install: opts.install, accel: opts.accel } }
            : {}),
          say: (l) => console.log(l),
        });
        console.log(
          `lab ${state.name} is up. Try: swarmlite lab exec node1 -- swarmlite info   |   swarmlite lab down --name ${state.name}`,
        );
      },
    );

  lab
    .command('down')
    .description('Remove a lab and everything it made (idempotent)')
    .option('--name <name>', 'lab name', DEFAULT_LAB)
    .action(async (opts: { name: string }) => {
      const found = await (await loadLab()).labDown(opts.name);
      console.log(found ? `lab ${opts.name} removed` : `no lab ${opts.name}: nothing to remove`);
    });

  lab
    .command('ls')
    .description('List labs and their hosts (namespace hosts and VMs)')
    .option('--format <format>', 'table or json')
    .action(async (opts: { format?: string }) => {
      const format = parseFormat(opts.format);
      const rows = await (await loadLab()).labLs();
      if (format === 'json') return printJson(rows);
      console.log(
        renderTable(
          ['LAB', 'HOST', 'KIND', 'ADDRESS', 'ROLE', 'DAEMON', 'PID', 'SOCKET'],
          rows.map((r) => [
            r.lab,
            r.host,
            r.kind,
            r.address,
            r.role ? r.role + (r.leader ? ' (leader)' : '') : '-',
            r.daemon,
            r.pid ?? '-',
            r.socket || '-',
          ]),
        ),
      );
    });

  lab
    .command('exec')
    .description(
      "Run a command inside a host's namespaces, with SWARMLITE_HOST set to its daemon (in a VM: over ssh)",
    )
    .usage('[--name LAB] HOST -- COMMAND [ARG...]')
    .option('--name <name>', 'lab name', DEFAULT_LAB)
    .argument('<host>', 'node1, node2, ...')
    .argument('[command...]', 'the command and its arguments')
    .passThroughOptions()
    .action(async (host: string, command: string[], opts: { name: string }) => {
      // Commander keeps the `--` separator among pass-through operands.
      process.exitCode = (await loadLab()).labExec(
        opts.name,
        host,
        command[0] === '--' ? command.slice(1) : command,
      );
    });

  for (const [verb, signal, what] of [
    ['kill', 'SIGKILL', "SIGKILL a host's daemon, as a crash would (a VM: pull its plug)"],
    ['stop', 'SIGTERM', "Stop a host's daemon cleanly (SIGTERM; a VM: shut it down)"],
  ] as const) {
    lab
      .command(verb)
      .description(what)
      .option('--name <name>', 'lab name', DEFAULT_LAB)
      .argument('<host>', 'node1, node2, ...')
      .action(async (host: string, opts: { name: string }) => {
        console.log(`${host}: ${await (await loadLab()).labSignal(opts.name, host, signal)}`);
      });
  }

  lab
    .command('start')
    .description("Start a host's daemon again on the same data root (a VM: boot it on its own disk)")
    .option('--name <name>', 'lab name', DEFAULT_LAB)
    .argument('<host>', 'node1, node2, ...')
    .action(async (host: string, opts: { name: string }) => {
      console.log(`${host}: ${await (await loadLab()).labStart(opts.name, host)}`);
    });
}
