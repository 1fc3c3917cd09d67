// The lines the CLI ends with when the command did not run its course. Commander's usage errors in
// the CLI's own style. Commander says "error: unknown option '--bogus'"
// (lowercase, its suggestion on a second line, then our usage lines); every other refusal of the CLI
// is one line "Error: ..." (lib/errors.ts). A usage error is that one line too, exit 2, with where to
// look next: the command's usage when an argument is missing or extra, its --help for a name that
// does not exist.

import { rpcErrorText } from '../lib/grpc-errors.js';

const UNKNOWN_NAME = new Set(['commander.unknownCommand', 'commander.unknownOption']);

/** The one line for a commander error `message` (code `code`) raised by command `name` with `usage`. */
export function usageErrorLine(message: string, code: string, name: string, usage: string): string {
  const suggestion = /\n\(Did you mean (.*)\?\)\s*$/s.exec(message)?.[1];
  const text = message
    .replace(/\n\(Did you mean .*\?\)\s*$/s, '')
    .replace(/^error:\s*/, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\.$/, '');
  const hint = suggestion ? `; did you mean ${suggestion}?` : '';
  const next = UNKNOWN_NAME.has(code) ? `see '${name} --help'` : `usage: ${name} ${usage}`;
  return `Error: ${text}${hint} (${next})`;
}

/**
 * The line for an error no command turned into a UserError: a gRPC status the command did not expect
 * (its details in plain words, not "14 UNAVAILABLE: ..."), or a bug. A bug's stack is for developers:
 * shown with SWARMLITE_DEBUG=1, never by default.
 */
export function unexpectedErrorLine(err: unknown, env: NodeJS.ProcessEnv): string {
  const status = err as { code?: unknown; details?: unknown };
  if (typeof status?.code === 'number' && typeof status.details === 'string') {
    return `Error: ${rpcErrorText(err)}`;
  }
  if (env.SWARMLITE_DEBUG === '1' && err instanceof Error && err.stack) {
    return `Error: swarmlite failed unexpectedly: ${err.stack}`;
  }
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  return `Error: swarmlite failed unexpectedly: ${message} (a bug: run again with SWARMLITE_DEBUG=1 for the details, and report it)`;
}
