// The bench's own load generator: one Node process in the namespace keeping a fixed number of A
// queries in flight, every answer checked for the expected address, per-query latency recorded (the
// p99 figure comes from here; dnsperf reports only an average).
import { spawn } from 'node:child_process';
import { findTool } from '../../lib/exec.js';

export interface NodeLoadResult {
  qps: number;
  p50: number;
  p99: number;
  lost: number;
  bad: number;
  /** Answers counted (NOERROR, one A record, the expected address). */
  answered: number;
}

/**
 * Keeps `outstanding` A queries for `name` in flight against host:53 for `seconds` (or `max`
 * answers), one socket, ids tracked in a table; a query unanswered for 1 s is counted lost and
 * replaced. An answer counts only if it is NOERROR with one A record holding the expected address.
 * Prints NodeLoadResult as one JSON line.
 */
const LOAD = `
const [host, name, seconds, outstanding, max, expect] = process.argv.slice(1);
const dgram = require('node:dgram');
const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
const q = Buffer.concat([Buffer.from([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
const want = Buffer.from(expect.split('.').map(Number));
const sentAt = new Float64Array(65536).fill(-1);
const lat = new Float64Array(Number(max));
let n = 0, lost = 0, bad = 0, nextId = 1, done = false;
const s = dgram.createSocket('udp4');
const now = () => Number(process.hrtime.bigint()) / 1e6;
const send = () => {
  let id = nextId;
  while (sentAt[id] >= 0) id = (id + 1) & 0xffff;
  nextId = (id + 1) & 0xffff;
  // A copy per query: dgram sends later than this call, so one shared buffer would go out with
  // whichever id was written last.
  const m = Buffer.from(q);
  m.writeUInt16BE(id, 0);
  sentAt[id] = now();
  s.send(m, 53, host);
};
s.on('message', (m) => {
  const id = m.readUInt16BE(0);
  const t0 = sentAt[id];
  if (t0 < 0) return;
  sentAt[id] = -1;
  const ok = m.length > q.length && (m[3] & 15) === 0 && m.readUInt16BE(6) === 1 && m.subarray(m.length - 4).equals(want);
  if (ok) lat[n++] = now() - t0; else bad++;
  if (done) return;
  if (n >= Number(max)) return finish();
  send();
});
const t0 = now();
const end = t0 + Number(seconds) * 1000;
const sweep = setInterval(() => {
  const t = now();
  for (let id = 0; id < 65536; id++) if (sentAt[id] >= 0 && t - sentAt[id] > 1000) { sentAt[id] = -1; lost++; if (!done) send(); }
  if (t >= end) finish();
}, 50);
function finish() {
  if (done) return;
  done = true;
  clearInterval(sweep);
  const secs = (now() - t0) / 1000;
  const l = lat.subarray(0, n).sort();
  const p = (x) => l[Math.min(n - 1, Math.floor(x * n))] ?? NaN;
  console.log(JSON.stringify({ qps: n / secs, p50: p(0.5), p99: p(0.99), lost, bad, answered: n }));
  s.close();
}
s.bind(0, () => { for (let i = 0; i < Number(outstanding); i++) send(); });
`;

export interface NodeLoadOptions {
  netns: string;
  host: string;
  name: string;
  expect: string;
  seconds: number;
  outstanding: number;
  maxQueries: number;
}

export function nodeLoad(o: NodeLoadOptions): Promise<NodeLoadResult> {
  return new Promise((resolve, reject) => {
    const args = [o.host, o.name, String(o.seconds), String(o.outstanding), String(o.maxQueries), o.expect];
    const child = spawn(
      findTool('nsenter'),
      [`--net=/run/netns/${o.netns}`, '--', process.execPath, '-e', LOAD, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as NodeLoadResult)
        : reject(new Error(`load generator exited ${code}: ${err}`)),
    );
  });
}
