// `swarmlite login` / `logout`: this node's registry credentials, kept by its daemon (0600, Docker's
// config.json shape) for its pulls and pushes, and for `service create --with-registry-auth`.
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { resolveHost, withDaemon } from '../daemon/client.js';
import { ask, askSecret, readStdin } from './prompt.js';

const hostOf = (cmd: Command) => resolveHost(cmd.optsWithGlobals<{ host?: string }>().host);

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

/** The username and password from the flags, stdin or the terminal, refused as Docker refuses them. */
async function credentials(flags: LoginFlags): Promise<{ username: string; password: string }> {
  if (flags.password !== undefined && flags.passwordStdin)
    throw new UserError('--password and --password-stdin are mutually exclusive', 2);
  if (flags.passwordStdin) {
    if (!flags.username) throw new UserError('Must provide --username with --password-stdin', 2);
    return { username: flags.username, password: await readStdin() };
  }
  if (flags.password !== undefined)
    process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  const interactive = process.stdin.isTTY === true;
  if ((!flags.username || flags.password === undefined) && !interactive)
    throw new UserError('Cannot perform an interactive login from a non TTY device', 2);
  const username = flags.username || (await ask('Username: ')).trim();
  const password = flags.password ?? (await askSecret('Password: '));
  return { username, password };
}

export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description('Log this node in to a registry (its pulls and pushes use the login)')
    .argument('<registry>', 'host[:port] of the registry')
    .option('-u, --username <user>', 'username')
    .option('-p, --password <password>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(async (registry: string, flags: LoginFlags, cmd: Command) => {
      const { username, password } = await credentials(flags);
      if (username === '') throw new UserError('login needs a username');
      if (password === '') throw new UserError('login needs a password');
      // The registry is asked before the login is kept: give it time to answer.
      const res = await withDaemon(hostOf(cmd), (c) => c.login({ registry, username, password }, 60_000));
      process.stdout.write(`${res.status}\n`);
    });
  program
    .command('logout')
    .description("Forget this node's login to a registry")
    .argument('<registry>')
    .action(async (registry: string, _opts: unknown, cmd: Command) => {
      const res = await withDaemon(hostOf(cmd), (c) => c.logout({ registry }));
      process.stdout.write(`${res.status}\n`);
    });
}
