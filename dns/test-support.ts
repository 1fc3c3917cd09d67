// Shared pieces of the resolver's tests: a network namespace of the test's own (`dnst<hex>`, lo up)
// removed whatever happens, a client run inside it, an endpoint source held in memory, and a small
// upstream DNS server on a loopback address of this namespace (no internet in tests).
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as packet from 'dns-packet';
import { findTool, run } from '../lib/exec.js';
import { createLogger } from '../lib/log.js';
import type { EndpointRecord, EndpointSource } from '../worker/endpoints/records.js';
import { frame, FrameDecoder } from './tcp-framing.js';

export const quietLog = () => createLogger('silent');

export interface TestContextLike {
  after(fn: () => unknown): void;
}

/** A namespace of this test's own, with lo up; deleted after the test. */
export async function testNetns(t: TestContextLike): Promise<{ name: string; path: string }> {
  const name = `dnst${randomBytes(4).toString('hex')}`;
  await run('ip', ['netns', 'add', name]);
  t.after(() => run('ip', ['netns', 'del', name]).catch(() => undefined));
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, path: `/run/netns/${name}` };
}

const CLIENT = fileURLToPath(new URL('./test-client.js', import.meta.url));

export type ClientOp =
  | { op: 'ask'; packet: string; timeoutMs: number }
  | { op: 'blast'; packets: string[] }
  | { op: 'tcp'; chunks: string[]; gapMs: number; timeoutMs: number; expect?: number }
  | { op: 'connections'; count: number; holdMs: number };

/** Runs test-client.ts inside the namespace with these operations; one result per operation. */
export function clientIn(netnsPath: string, ops: ClientOp[]): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(findTool('nsenter'), [`--net=${netnsPath}`, '--', process.execPath, CLIENT], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`test client exited ${code}: ${err}`));
      resolve(
        out
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as unknown),
      );
    });
    child.stdin.end(JSON.stringify(ops));
  });
}

export const b64 = (b: Buffer) => b.toString('base64');

export function query(
  name: string,
  type: packet.RecordType = 'A',
  id = randomInt(0x10000),
  edns = false,
): Buffer {
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    ...(edns
      ? {
          additionals: [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: 1232,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ],
        }
      : {}),
  } as packet.Packet);
}

export class MemorySource implements EndpointSource {
  private readonly byNetwork = new Map<string, EndpointRecord[]>();
  private readonly listeners = new Set<(networkId: string) => void>();

  set(networkId: string, records: EndpointRecord[]): void {
    this.byNetwork.set(networkId, records);
    for (const l of this.listeners) l(networkId);
  }
  records(networkId: string): readonly EndpointRecord[] {
    return this.byNetwork.get(networkId) ?? [];
  }
  onChange(listener: (networkId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
}

export function record(
  over: Partial<EndpointRecord> & Pick<EndpointRecord, 'serviceName' | 'taskId' | 'ip'>,
): EndpointRecord {
  return {
    serviceId: `${over.serviceName}-id`,
    taskName: `${over.serviceName}.1.${over.taskId}`,
    nodeId: 'node1',
    vip: '',
    endpointMode: 'vip',
    aliases: [],
    ports: [],
    ...over,
  };
}

export type UpstreamMode = 'answer' | 'truncate' | 'servfail' | 'silent';

/**
 * An upstream resolver for tests on 127.0.0.<random>, UDP and TCP on one port. It answers every A
 * question with `answerIp` (mode 'answer'), truncates over UDP and answers in full over TCP
 * ('truncate'), answers SERVFAIL, or never answers ('silent'). It counts what it saw.
 */
export class TestUpstream {
  readonly host = `127.0.0.${randomInt(100, 250)}`;
  port = 0;
  udpQueries = 0;
  tcpQueries = 0;
  private udp?: UdpSocket;
  private tcp?: Server;

  constructor(
    public mode: UpstreamMode,
    readonly answerIp = '198.18.7.7',
    readonly answerCount = 1,
  ) {}

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  private respond(q: Buffer, over: 'udp' | 'tcp'): Buffer | undefined {
    let decoded: packet.DecodedPacket;
    try {
      decoded = packet.decode(q);
    } catch {
      return undefined;
    }
    const question = decoded.questions?.[0];
    if (!question || this.mode === 'silent') return undefined;
    const base = { type: 'response' as const, id: decoded.id, questions: decoded.questions };
    if (this.mode === 'servfail') return packet.encode({ ...base, flags: packet.RECURSION_AVAILABLE | 2 });
    if (this.mode === 'truncate' && over === 'udp')
      return packet.encode({ ...base, flags: packet.TRUNCATED_RESPONSE | packet.RECURSION_AVAILABLE });
    const answers = Array.from({ length: this.answerCount }, (_, i) => ({
      type: 'A' as const,
      name: question.name,
      ttl: 30,
      data: this.answerCount === 1 ? this.answerIp : `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    }));
    return packet.encode({
      ...base,
      flags: packet.RECURSION_AVAILABLE,
      answers: question.type === 'A' ? answers : [],
    });
  }

  async start(t: TestContextLike): Promise<this> {
    t.after(() => this.stop());
    const udp = createSocket('udp4');
    this.udp = udp;
    udp.on('message', (m, r) => {
      this.udpQueries++;
      const out = this.respond(m, 'udp');
      if (out) udp.send(out, r.port, r.address);
    });
    await new Promise<void>((resolve) => udp.bind(0, this.host, () => resolve()));
    this.port = udp.address().port;
    this.tcp = createServer((sock) => {
      const decoder = new FrameDecoder();
      sock.on('error', () => undefined);
      sock.on('data', (d) => {
        for (const m of decoder.push(d)) {
          this.tcpQueries++;
          const out = this.respond(m, 'tcp');
          if (out) sock.write(frame(out));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.tcp!.once('error', reject);
      this.tcp!.listen(this.port, this.host, () => resolve());
    });
    return this;
  }

  stop(): void {
    this.udp?.close();
    this.tcp?.close();
    this.udp = undefined;
    this.tcp = undefined;
  }
}
