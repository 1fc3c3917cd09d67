// grpc-js's words for a failed connection are for its developers: "No connection established. Last
// error: Error: connect ECONNREFUSED 198.18.0.2:2377. Resolution note: ". Whatever a user may read
// (the CLI's errors, the daemon's answers) goes through rpcErrorText, which keeps the cause in plain
// words and drops the rest.

/** Plain words for the socket errors a connection attempt ends with. */
const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing listens there)',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'no route to the network',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'no such socket',
};

/** A grpc status' details (or an error's message) as a user may read it. */
export function rpcErrorText(err: unknown): string {
  const e = err as { details?: unknown; message?: unknown };
  const raw =
    typeof e?.details === 'string' && e.details
      ? e.details
      : typeof e?.message === 'string'
        ? e.message
        : String(err);
  return cleanConnectionText(raw);
}

function cleanConnectionText(text: string): string {
  const withoutNote = text.replace(/\.?\s*Resolution note:.*$/s, '').trim();
  const last = /Last error: (?:Error: )?(.*)$/s.exec(withoutNote)?.[1];
  if (/^No addresses resolved/.test(withoutNote)) return 'the address could not be resolved';
  if (last === undefined) return withoutNote;
  if (last === 'null' || last === '') return 'the connection could not be established';
  const errno = /\b(E[A-Z]+)\b\s*(\S+)?/.exec(last);
  const cause = errno ? CAUSES[errno[1]!] : undefined;
  if (!cause) return last.replace(/\.$/, '');
  const where = errno![2] && !errno![2].startsWith('E') ? ` at ${errno![2].replace(/\.$/, '')}` : '';
  return `${cause}${where}`;
}
