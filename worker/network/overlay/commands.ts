// Commands as data: the planners build them, the driver runs them, logs and golden tests print them
// exactly as a person would type them.
import type { Command, Where } from './types.js';

export const NODE: Where = { ns: 'node' };
export const NETNS_NAMES: Where = { ns: 'netns-names' };
export const inSandbox = (name: string): Where => ({ ns: 'sandbox', name });
export const inTask = (path: string): Where => ({ ns: 'task', path });

export const ip = (where: Where, ...args: string[]): Command => ({ tool: 'ip', where, args });
export const bridge = (where: Where, ...args: string[]): Command => ({ tool: 'bridge', where, args });

/** A delete that also succeeds when the thing is already gone. */
export const ipDel = (where: Where, ...args: string[]): Command => ({
  tool: 'ip',
  where,
  args,
  okIfAbsent: true,
});

/**
 * How the command is run, as argv. Sandboxes are named namespaces (`ip -n`); a task's namespace is a
 * path (the runtime's), entered with nsenter; the node's namespace is the daemon's own unless the
 * driver was given one (tests and labs run "hosts" as named namespaces). `resolve` turns a tool run by
 * nsenter or `ip netns exec` into its absolute path (they search a PATH that may lack /usr/sbin).
 */
export function argvOf(cmd: Command, nodeNetns?: string, resolve = (tool: string): string => tool): string[] {
  const named = cmd.where.ns === 'sandbox' ? cmd.where.name : cmd.where.ns === 'node' ? nodeNetns : undefined;
  if (cmd.where.ns === 'task') return ['nsenter', `--net=${cmd.where.path}`, resolve(cmd.tool), ...cmd.args];
  if (!named) return [cmd.tool, ...cmd.args];
  if (cmd.tool === 'ip' || cmd.tool === 'bridge') return [cmd.tool, '-n', named, ...cmd.args];
  return ['ip', 'netns', 'exec', named, resolve(cmd.tool), ...cmd.args];
}

/** One line per command, shell-quoted where needed; nft's stdin is shown as a here-document marker. */
export function describeCommand(cmd: Command, nodeNetns?: string): string {
  const line = argvOf(cmd, nodeNetns)
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
  return cmd.input === undefined ? line : `${line} <<'EOF'\n${cmd.input}EOF`;
}

/** A command line for a log: an SA's key material (`aead <alg> 0x…`) never reaches one. */
export const redactKeys = (line: string): string => line.replace(/(aead \S+ )0x[0-9a-f]+/g, '$1<key>');
