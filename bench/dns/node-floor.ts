// The floor for any resolver written on Node's dgram: a server in the namespace that does no DNS work
// at all. It answers every datagram with the query turned into a response carrying one fixed A record
// (one allocation, one copy, a few byte writes, one send), through the same public dgram API the
// embedded resolver uses. Whatever it costs per query is Node's and the kernel's, not the resolver's.
// (A socket created with its own synchronous `lookup` option saves ~0.65 µs a send, the dns.lookup
// tick; a socket handed over from another namespace, as the resolver's are, cannot be given one.)
import { spawn, type ChildProcess } from 'node:child_process';
import { findTool } from '../../lib/exec.js';
import { processName } from '../../lib/process.js';

const FLOOR = `
const [address, ip] = process.argv.slice(1);
const dgram = require('node:dgram');
// name: pointer to the question; type A, class IN, TTL 600, 4 bytes of address.
const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 2, 88, 0, 4, ...ip.split('.').map(Number)]);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  if (m.length < 12) return;
  const out = Buffer.allocUnsafe(m.length + rr.length);
  m.copy(out, 0);
  rr.copy(out, m.length);
  out[2] = 0x84 | (m[2] & 1); // QR, AA, the client's RD
  out[3] = 0x80; // RA, NOERROR
  out[6] = 0; out[7] = 1; // one answer
  s.send(out, r.port, r.address);
});
s.bind(53, address, () => console.log('ready'));
`;

export interface NodeFloor {
  pid: number;
  stop(): Promise<void>;
}

/** Starts the floor server at address:53 in the namespace; resolves once it is bound. */
export function startNodeFloor(netns: string, address: string, answerIp: string): Promise<NodeFloor> {
  return new Promise((resolve, reject) => {
    // `ip netns exec` execs node itself, so the child's pid is the server's (checked below).
    const child: ChildProcess = spawn(
      findTool('ip'),
      ['netns', 'exec', netns, process.execPath, '-e', FLOOR, address, answerIp],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`node floor server exited ${code}: ${err.trim()}`)));
    child.stdout!.once('data', () => {
      const pid = child.pid!;
      if (processName(pid) !== 'node') {
        child.kill('SIGTERM');
        return reject(new Error(`node floor server: pid ${pid} is not node`));
      }
      resolve({
        pid,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}
