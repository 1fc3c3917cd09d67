// The `swarmlite` command. Docker's verbs and habits: usage errors exit 2 with the usage on stderr,
// a failed operation prints one line on stderr and exits 1, and nothing is half-done.
import { Command, CommanderError } from 'commander';
import { UserError } from '../lib/errors.js';
import { packageVersion } from '../lib/repo.js';
import { registerBasicCommands } from './commands-basic.js';
import { registerContainerCommands } from './commands-container.js';
import { registerExec } from './commands-exec.js';
import { registerImageCommands } from './commands-image.js';
import { registerLoginCommands } from './commands-login.js';
import { registerNetworkCommands } from './commands-network.js';
import { registerNodeCommands } from './commands-node.js';
import { registerServiceCommands } from './commands-service.js';
import { registerSwarmCommands } from './commands-swarm.js';
import { registerWhoamiCommand } from './commands-whoami.js';
import { unexpectedErrorLine, usageErrorLine } from './error-lines.js';

export const USAGE_EXIT = 2;

/** Registers a group of verbs on the program (the entry point adds `lab`, which lives in deploy/). */
export type CommandGroup = (program: Command) => void;

function buildProgram(extra: readonly CommandGroup[]): Command {
  const program = new Command('swarmlite')
    .description('A small Swarm-style container cluster')
    .version(packageVersion(), '-v, --version', 'print the client version')
    .option(
      '-H, --host <socket>',
      'daemon socket to talk to (default: $SWARMLITE_HOST or /run/swarmlite/swarmlite.sock)',
    )
    .enablePositionalOptions()
    .showSuggestionAfterError(true);
  registerBasicCommands(program);
  registerSwarmCommands(program);
  registerNodeCommands(program);
  registerServiceCommands(program);
  registerNetworkCommands(program);
  registerExec(program);
  registerContainerCommands(program);
  registerImageCommands(program);
  registerLoginCommands(program);
  registerWhoamiCommand(program);
  for (const register of extra) register(program);
  return program;
}

/** Every command reports its own usage on a usage error, so errors carry the command they came from. */
function tagUsageErrors(cmd: Command): void {
  // Commander's own printing is replaced by main()'s one line (error-lines.ts).
  cmd.configureOutput({ outputError: () => {} });
  cmd.exitOverride((err) => {
    throw Object.assign(err, { command: cmd });
  });
  for (const sub of cmd.commands) tagUsageErrors(sub);
}

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export async function main(argv: string[], extra: readonly CommandGroup[] = []): Promise<number> {
  const program = buildProgram(extra);
  tagUsageErrors(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)
        return 0;
      const cmd = (err as CommanderError & { command?: Command }).command ?? program;
      if (err.code === 'commander.help' || err.code === 'commander.executeSubCommandAsync')
        return err.exitCode;
      process.stderr.write(`${usageErrorLine(err.message, err.code, fullName(cmd), cmd.usage())}\n`);
      return USAGE_EXIT;
    }
    if (err instanceof UserError) {
      process.stderr.write(`Error: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`${unexpectedErrorLine(err, process.env)}\n`);
    return 1;
  }
}
