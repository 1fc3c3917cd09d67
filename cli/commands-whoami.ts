// `swarmlite whoami [--port N]`: the demo server of worker/exec/whoami.ts, run in the foreground
// (a task's command) until SIGTERM or SIGINT, which close it cleanly so a stopped task exits 0.
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { startWhoami } from '../worker/exec/whoami.js';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535)
    throw new UserError(`invalid --port '${value}': use a number from 1 to 65535`, 2);
  return port;
}

export function registerWhoamiCommand(program: Command): void {
  program
    .command('whoami')
    .description('Serve HTTP answers naming this task, its node, IPs and the client (for demos and tests)')
    .option('--port <port>', 'TCP port to listen on', '80')
    .action(async (opts: { port: string }) => {
      const port = parsePort(opts.port);
      const server = await startWhoami(port).catch((err: NodeJS.ErrnoException) => {
        throw new UserError(`whoami: cannot listen on port ${port}: ${err.code ?? err.message}`);
      });
      process.stdout.write(`whoami listening on :${port}\n`);
      await new Promise<void>((resolve) => {
        const close = () => {
          server.close(() => resolve());
          server.closeAllConnections();
        };
        process.once('SIGTERM', close);
        process.once('SIGINT', close);
      });
    });
}
