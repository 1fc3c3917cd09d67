// Commander's usage errors in the CLI's own style. Commander says "error: unknown option '--bogus'"
// (lowercase, its suggestion on a second line, then our usage lines); every other refusal of the CLI
// is one line "Error: ..." (lib/errors.ts). A usage error is that one line too, exit 2, with where to
// look next: the command's usage when an argument is missing or extra, its --help for a name that
// does not exist.

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
