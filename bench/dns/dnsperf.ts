// dnsperf (Debian's package) as a second load generator: written in C, it costs less per query than
// any server measured here, so its figures show each server at (or near) its own limit, where the
// Node generator saturates first and reads close to parity for every server.
import { run } from '../../lib/exec.js';

export interface DnsperfResult {
  qps: number;
  completed: number;
  lost: number;
  /** Responses with rcode NOERROR (dnsperf does not check the answer's content; the Node load does). */
  noerror: number;
  avgLatencyMs: number;
  responseBytes: number;
}

export interface DnsperfOptions {
  netns: string;
  host: string;
  /** A dnsperf data file: one "name type" line per query, sent round-robin. */
  queryFile: string;
  seconds: number;
  outstanding: number;
}

export async function dnsperf(o: DnsperfOptions): Promise<DnsperfResult> {
  const out = await run(
    'dnsperf',
    ['-s', o.host, '-d', o.queryFile, '-l', String(o.seconds), '-q', String(o.outstanding), '-t', '1'],
    { netns: o.netns, timeoutMs: (o.seconds + 15) * 1000 },
  );
  return parseDnsperf(out);
}

/** The figures from dnsperf's "Statistics:" block; throws if one is missing (another version's format). */
export function parseDnsperf(text: string): DnsperfResult {
  const num = (re: RegExp, what: string) => {
    const m = re.exec(text);
    if (!m) throw new Error(`dnsperf output has no ${what}:\n${text}`);
    return Number(m[1]);
  };
  return {
    qps: num(/Queries per second:\s+([\d.]+)/, 'queries per second'),
    completed: num(/Queries completed:\s+(\d+)/, 'queries completed'),
    lost: num(/Queries lost:\s+(\d+)/, 'queries lost'),
    noerror: /NOERROR (\d+)/.test(text) ? num(/NOERROR (\d+)/, 'NOERROR count') : 0,
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/, 'average latency') * 1000,
    responseBytes: num(/response (\d+)/, 'response size'),
  };
}
