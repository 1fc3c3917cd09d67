// The embedded DNS's speed for an internal name against dnsmasq answering the same name from a hosts
// file, in the same run: queries/s and p99 latency from one load generator (Node, dgram, a fixed
// number of queries outstanding, bounded in time and count), rounds alternated, medians, and the
// median of the rounds' ratios. Goal: embedded/dnsmasq ≥ 1.
// Both servers listen inside one network namespace this bench creates (`dnsb<hex>`): the embedded
// resolver at 127.0.0.11:53 (sockets opened there by its helper, served by this process), dnsmasq at
// 127.0.0.12:53. The generator runs in the namespace too; nothing else is touched.
//   npm run bench:dns           (root; installs dnsmasq-base when missing)
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool, run } from '../lib/exec.js';
import { EmbeddedDns } from '../dns/resolver.js';
import { MemorySource, quietLog, record } from '../dns/test-support.js';

const ROUNDS = 3;
const SECONDS = 3;
const OUTSTANDING = 32;
const MAX_QUERIES = 2_000_000;
const NAME = 'web';
const VIP = '10.0.1.2';

/**
 * Keeps `outstanding` A queries for `name` in flight against host:53 for `seconds` (or `max`
 * answers), one socket, ids tracked in a table; a query unanswered for 1 s is counted lost and
 * replaced. An answer counts only if it is NOERROR with one A record holding the expected address.
 * Prints {qps, p50, p99 (ms), lost, bad} as one JSON line.
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
  console.log(JSON.stringify({ qps: n / secs, p50: p(0.5), p99: p(0.99), lost, bad }));
  s.close();
}
s.bind(0, () => { for (let i = 0; i < Number(outstanding); i++) send(); });
`;

interface LoadResult {
  qps: number;
  p50: number;
  p99: number;
  lost: number;
  bad: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ensureDnsmasq(): Promise<string> {
  try {
    return findTool('dnsmasq');
  } catch {
    console.log('installing dnsmasq-base (the -base package runs no service) ...');
    try {
      await run('apt-get', ['install', '-y', 'dnsmasq-base'], { timeoutMs: 300_000 });
    } catch {
      await run('apt-get', ['update'], { timeoutMs: 300_000 });
      await run('apt-get', ['install', '-y', 'dnsmasq-base'], { timeoutMs: 300_000 });
    }
    return findTool('dnsmasq');
  }
}

function load(netns: string, host: string, seconds: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const args = [host, NAME, String(seconds), String(OUTSTANDING), String(MAX_QUERIES), VIP];
    const child = spawn(
      findTool('nsenter'),
      [`--net=/run/netns/${netns}`, '--', process.execPath, '-e', LOAD, ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as LoadResult)
        : reject(new Error(`load generator exited ${code}: ${err}`)),
    );
  });
}

async function main(): Promise<void> {
  const dnsmasqPath = await ensureDnsmasq();
  const netns = `dnsb${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `${netns}-`));
  let dnsmasq: ChildProcess | undefined;
  let dns: EmbeddedDns | undefined;
  await run('ip', ['netns', 'add', netns]);
  try {
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, `${VIP} ${NAME}\n`);
    // No upstreams, no /etc/hosts, no resolv.conf: dnsmasq answers from the one hosts file, as the
    // embedded resolver answers from its records.
    dnsmasq = spawn(
      findTool('ip'),
      [
        'netns',
        'exec',
        netns,
        dnsmasqPath,
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--no-resolv',
        '--no-hosts',
        `--addn-hosts=${hosts}`,
        '--listen-address=127.0.0.12',
        '--bind-interfaces',
        '--port=53',
        '--user=root',
        '--pid-file',
        '--log-facility=-',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let dnsmasqErr = '';
    dnsmasq.stderr!.on('data', (d) => (dnsmasqErr += d));

    const source = new MemorySource();
    dns = new EmbeddedDns({ source, log: quietLog(), upstreams: [] });
    source.set('bench', [
      record({ serviceName: NAME, taskId: 't1', ip: '10.0.1.5', vip: VIP }),
      record({ serviceName: NAME, taskId: 't2', ip: '10.0.1.6', vip: VIP }),
    ]);
    await dns.attachTask({
      taskId: 'bench',
      netnsPath: `/run/netns/${netns}`,
      networkIds: ['bench'],
      nameservers: [],
    });
    await sleep(300);
    if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited: ${dnsmasqErr.trim()}`);

    // Warm-up: JIT, caches, both answering correctly.
    for (const host of ['127.0.0.11', '127.0.0.12']) {
      const w = await load(netns, host, 0.5);
      if (w.bad || !w.qps)
        throw new Error(`${host} does not answer ${NAME} with ${VIP}: ${JSON.stringify(w)}`);
    }
    const embedded: LoadResult[] = [];
    const reference: LoadResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const pair = [
        async () => embedded.push(await load(netns, '127.0.0.11', SECONDS)),
        async () => reference.push(await load(netns, '127.0.0.12', SECONDS)),
      ];
      if (round % 2) pair.reverse();
      for (const step of pair) await step();
    }
    const show = (label: string, rs: LoadResult[]) =>
      console.log(
        `${label.padEnd(24)} ${Math.round(median(rs.map((r) => r.qps)))
          .toString()
          .padStart(
            7,
          )} q/s  p50 ${median(rs.map((r) => r.p50)).toFixed(3)} ms  p99 ${median(rs.map((r) => r.p99)).toFixed(3)} ms` +
          `  (rounds: ${rs.map((r) => Math.round(r.qps)).join(' / ')}; lost ${rs.reduce((n, r) => n + r.lost, 0)}, bad ${rs.reduce((n, r) => n + r.bad, 0)})`,
      );
    console.log(
      `A ${NAME} over UDP, ${OUTSTANDING} outstanding, ${ROUNDS} alternating rounds of ${SECONDS} s (medians)`,
    );
    show('embedded (127.0.0.11)', embedded);
    show('dnsmasq (127.0.0.12)', reference);
    const ratio = median(embedded.map((e, i) => e.qps / reference[i]!.qps));
    const p99Ratio = median(embedded.map((e, i) => e.p99 / reference[i]!.p99));
    console.log(
      `embedded/dnsmasq: queries/s ${ratio.toFixed(2)} (goal ≥ 1), p99 ${p99Ratio.toFixed(2)} (lower is better)`,
    );
    console.log(`resolver stats: ${JSON.stringify(dns.stats())}`);
  } finally {
    await dns?.close();
    if (dnsmasq?.pid && dnsmasq.exitCode === null) {
      dnsmasq.kill('SIGTERM');
      await new Promise((r) => dnsmasq!.once('exit', r));
    }
    await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
