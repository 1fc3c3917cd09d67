// The load tools the network benchmarks share: the closed-loop HTTP load generator (bench:mesh,
// bench:bridge) and iperf3's client run in a namespace (bench:bridge), so figures from different
// benches come from the same generator.
import { run } from '../lib/exec.js';

/**
 * A closed-loop load generator: `concurrency` workers each send a request, wait for the answer and
 * send the next, for `seconds`. Prints requests/s, p50 and p99 (ms) and errors as one JSON line.
 * `mode` is `keepalive` (one connection per worker, reused) or anything else (a new connection per
 * request). Run with `node -e LOAD host port seconds concurrency mode [localAddress]`: a source address
 * of its own per path keeps two paths to one server from sharing the server's 4-tuples (the server
 * keeps TIME_WAIT for each closed connection, and a SYN reusing one from another path, whose timestamps
 * and sequence numbers follow another clock, is refused by PAWS: a 1-s SYN retransmission).
 */
export const HTTP_LOAD = `
const [host, port, seconds, concurrency, mode, localAddress] = process.argv.slice(1);
const http = require('node:http');
const agent = mode === 'keepalive' ? new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) }) : false;
const lat = [];
let errors = 0;
const end = Date.now() + Number(seconds) * 1000;
const one = () => new Promise((resolve) => {
  const t0 = process.hrtime.bigint();
  const req = http.get({ host, port: Number(port), agent, path: '/', localAddress }, (res) => {
    res.resume();
    res.on('end', () => { lat.push(Number(process.hrtime.bigint() - t0) / 1e6); resolve(); });
  });
  req.on('error', () => { errors++; resolve(); });
});
const worker = async () => { while (Date.now() < end) await one(); };
(async () => {
  const t0 = Date.now();
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
  const secs = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  console.log(JSON.stringify({ rps: lat.length / secs, p50: q(0.5), p99: q(0.99), errors }));
  process.exit(0);
})();
`;

/** What one HTTP_LOAD run prints. */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/**
 * iperf3's client for `seconds` (plus 1 s omitted), run by nsenter with `enter` (e.g. `['-t', pid,
 * '-n']` or `['--net=/run/netns/NAME']`): the receiver's rate and the bytes sent. Retries while the
 * server refuses (it may not listen yet) for up to 10 s; any other error is thrown. `wrap` goes before
 * iperf3 (e.g. `['taskset', '-c', '0']`).
 */
export async function iperf3Client(
  enter: string[],
  server: string,
  port: number,
  seconds: number,
  wrap: string[] = [],
): Promise<{ gbps: number; bytes: number }> {
  const argv = [
    ...enter,
    '--',
    ...wrap,
    'iperf3',
    '-c',
    server,
    '-p',
    String(port),
    '-t',
    String(seconds),
    '-O',
    '1',
    '-J',
  ];
  type Report = {
    error?: string;
    end: { sum_received: { bits_per_second: number }; sum_sent: { bytes: number } };
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    // With -J, iperf3 reports its errors in the JSON (exit 1), not on stderr.
    const out = await run('nsenter', argv, { okCodes: [1], timeoutMs: (seconds + 30) * 1000 });
    const r = JSON.parse(out) as Report;
    if (!r.error) return { gbps: r.end.sum_received.bits_per_second / 1e9, bytes: r.end.sum_sent.bytes };
    if (!/connection refused/i.test(r.error) || Date.now() > deadline)
      throw new Error(`iperf3 to ${server}:${port}: ${r.error}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
