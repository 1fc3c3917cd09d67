// `swarmlite lab ...`: one-machine clusters of network-namespace hosts (deploy/lab).
import { Command } from 'commander';
import { labDown, labExec, labLs, labSignal, labStart, labUp } from './lab.js';
import { UserError } from '../../lib/errors.js';
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
    .description('Create a lab: a switch, N hosts with their own daemons, the machine attached')
    .option('--name <name>', 'lab name', DEFAULT_LAB)
    .option('--nodes <n>', 'number of hosts', '3')
    .option('--managers <m>', 'managers among them (node1 ... nodeM); 0: no swarm', '1')
    .action(async (opts: { name: string; nodes: string; managers: string }) => {
      const state = await labUp({
        name: opts.name,
        nodes: parseCount(opts.nodes, '--nodes'),
        managers: parseCount(opts.managers, '--managers'),
        say: (l) => console.log(l),
      });
      console.log(
        `lab ${state.name} is up. Try: swarmlite lab exec node1 -- swarmlite info   |   swarmlite lab down --name ${state.name}`,
      );
    });

  lab
    .command('down')
    .description('Remove a lab and everything it made (idempotent)')
    .option('--name <name>', 'lab name', DEFAULT_LAB)
    .action(async (opts: { name: string }) => {
      const found = await labDown(opts.name);
      console.log(found ? `lab ${opts.name} removed` : `no lab ${opts.name}: nothing to remove`);
    });

  lab
    .command('ls')
    .description('List labs and their hosts')
    .option('--format <format>', 'table or json')
    .action(async (opts: { format?: string }) => {
      const format = parseFormat(opts.format);
      const rows = await labLs();
      if (format === 'json') return printJson(rows);
      console.log(
        renderTable(
          ['LAB', 'HOST', 'ADDRESS', 'ROLE', 'DAEMON', 'PID', 'SOCKET'],
          rows.map((r) => [
            r.lab,
            r.host,
            r.address,
            r.role ? r.role + (r.leader ? ' (leader)' : '') : '-',
            r.daemon,
            r.pid ?? '-',
            r.socket,
          ]),
        ),
      );
    });

  lab
    .command('exec')
    .description("Run a command inside a host's namespaces, with SWARMLITE_HOST set to its daemon")
    .usage('[--name LAB] HOST -- COMMAND [ARG...]')
    .option('--name <name>', 'lab name', DEFAULT_LAB)
    .argument('<host>', 'node1, node2, ...')
    .argument('[command...]', 'the command and its arguments')
    .passThroughOptions()
    .action((host: string, command: string[], opts: { name: string }) => {
      // Commander keeps the `--` separator among pass-through operands.
      process.exitCode = labExec(opts.name, host, command[0] === '--' ? command.slice(1) : command);
    });

  for (const [verb, signal, what] of [
    ['kill', 'SIGKILL', "SIGKILL a host's daemon, as a crash would"],
    ['stop', 'SIGTERM', "Stop a host's daemon cleanly (SIGTERM)"],
  ] as const) {
    lab
      .command(verb)
      .description(what)
      .option('--name <name>', 'lab name', DEFAULT_LAB)
      .argument('<host>', 'node1, node2, ...')
      .action(async (host: string, opts: { name: string }) => {
        await labSignal(opts.name, host, signal);
        console.log(`${host}: daemon ${verb === 'kill' ? 'killed' : 'stopped'}`);
      });
  }

  lab
    .command('start')
    .description("Start a host's daemon again on the same data root")
    .option('--name <name>', 'lab name', DEFAULT_LAB)
    .argument('<host>', 'node1, node2, ...')
    .action(async (host: string, opts: { name: string }) => {
      const pid = await labStart(opts.name, host);
      console.log(`${host}: daemon started (pid ${pid})`);
    });
}
