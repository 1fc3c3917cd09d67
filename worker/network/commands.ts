// Commands as data for the local drivers (bridge, null): planners build them, a thin runner executes
// them, golden tests and logs print them as a person would type them. The node's namespace is the
// daemon's own unless the driver is given a named one (labs and tests run "hosts" as namespaces); a
// sandbox is entered by its path with nsenter.
import { findTool, isAbsentError, run } from '../../lib/exec.js';

export type Where = { ns: 'node' } | { ns: 'sandbox'; path: string };

export interface Command {
  tool: 'ip' | 'bridge' | 'nft' | 'sysctl';
  where: Where;
  args: string[];
  /** stdin (an nft ruleset). */
  input?: string;
  /** Deleting something already gone counts as done (cleanup of leftovers). */
  okIfAbsent?: boolean;
}

export const NODE: Where = { ns: 'node' };
export const inSandbox = (path: string): Where => ({ ns: 'sandbox', path });

export const cmd = (tool: Command['tool'], where: Where, ...args: string[]): Command => ({
  tool,
  where,
  args,
});
export const ipDel = (where: Where, ...args: string[]): Command => ({
  tool: 'ip',
  where,
  args,
  okIfAbsent: true,
});

/** argv of a command; `resolve` turns a tool run through nsenter/`ip netns exec` into its absolute path. */
export function argvOf(c: Command, nodeNetns?: string, resolve = (tool: string): string => tool): string[] {
  if (c.where.ns === 'sandbox') return ['nsenter', `--net=${c.where.path}`, resolve(c.tool), ...c.args];
  if (!nodeNetns) return [c.tool, ...c.args];
  if (c.tool === 'ip' || c.tool === 'bridge') return [c.tool, '-n', nodeNetns, ...c.args];
  return ['ip', 'netns', 'exec', nodeNetns, resolve(c.tool), ...c.args];
}

/** One line per command, shell-quoted where needed; nft's stdin as a here-document. */
export function describeCommand(c: Command, nodeNetns?: string): string {
  const line = argvOf(c, nodeNetns)
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
  return c.input === undefined ? line : `${line} <<'EOF'\n${c.input}EOF`;
}

/** Runs one command (absolute tool paths, so a PATH without /usr/sbin does not matter). */
export async function runCommand(c: Command, nodeNetns?: string): Promise<string> {
  const [tool, ...args] = argvOf(c, nodeNetns, findTool);
  try {
    return await run(tool!, args, { input: c.input });
  } catch (err) {
    if (c.okIfAbsent && isAbsentError(err)) return '';
    throw err;
  }
}
