// A DNS client for the resolver's integration tests, run inside a task's namespace (nsenter --net)
// where 127.0.0.11 is the embedded resolver. It reads one JSON array of operations on stdin and prints
// one JSON line of results per operation. Packets travel base64-encoded; the test builds them.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';

type Op =
  | { op: 'ask'; packet: string; timeoutMs: number; port?: number }
  | { op: 'blast'; packets: string[] }
  | { op: 'tcp'; chunks: string[]; gapMs: number; timeoutMs: number; expect?: number }
  | { op: 'connections'; count: number; holdMs: number };

const HOST = process.argv[2] ?? '127.0.0.11';
const PORT = Number(process.argv[3] ?? 53);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ask(packet: Buffer, timeoutMs: number): Promise<{ answer?: string }> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => (s.close(), resolve({})), timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve({ answer: m.toString('base64') });
    });
    s.send(packet, PORT, HOST);
  });
}

async function blast(packets: Buffer[]): Promise<{ sent: number }> {
  const s = createSocket('udp4');
  s.on('message', () => undefined);
  let sent = 0;
  for (const p of packets) {
    await new Promise<void>((r) => s.send(p, PORT, HOST, () => r()));
    // Paced so the socket's receive buffer never overflows: this tests survival, not load.
    if (++sent % 10 === 0) await sleep(1);
  }
  await sleep(50);
  s.close();
  return { sent };
}

/**
 * Writes the chunks (gapMs apart), collects framed answers until the server closes, `expect` answers
 * came, or timeoutMs.
 */
function tcp(chunks: Buffer[], gapMs: number, timeoutMs: number, expect = Infinity) {
  return new Promise<{ answers: string[]; closedByServer: boolean; ms: number }>((resolve) => {
    const t0 = Date.now();
    const answers: string[] = [];
    let buf = Buffer.alloc(0);
    let done = false;
    const sock = connect(PORT, HOST);
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ answers, closedByServer, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (done || sock.destroyed) return;
        sock.write(c);
        if (gapMs) await sleep(gapMs);
      }
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        answers.push(buf.subarray(2, 2 + buf.readUInt16BE(0)).toString('base64'));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (answers.length >= expect) finish(false);
    });
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
  });
}

/** Opens `count` connections at once and counts those the server closed within holdMs. */
async function connections(count: number, holdMs: number) {
  let closedByServer = 0;
  const socks = Array.from({ length: count }, () => {
    const s = connect(PORT, HOST);
    s.on('error', () => undefined);
    s.on('close', () => closedByServer++);
    return s;
  });
  await sleep(holdMs);
  const closed = closedByServer;
  for (const s of socks) s.destroy();
  return { closedByServer: closed };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const b = (s: string) => Buffer.from(s, 'base64');
  for (const op of JSON.parse(input) as Op[]) {
    let out: unknown;
    if (op.op === 'ask') out = await ask(b(op.packet), op.timeoutMs);
    else if (op.op === 'blast') out = await blast(op.packets.map(b));
    else if (op.op === 'tcp') out = await tcp(op.chunks.map(b), op.gapMs, op.timeoutMs, op.expect);
    else out = await connections(op.count, op.holdMs);
    process.stdout.write(JSON.stringify(out) + '\n');
  }
});
