// The helper's --adopt mode: sockets the batch binder (socket-batch.ts) bound in task namespaces
// and left open across its exec are wrapped as Node handles and sent to the daemon, each message
// naming the entry it belongs to. An entry the binder could not bind is sent as its error.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { SendHandle } from 'node:child_process';

type Send = (
  msg: unknown,
  handle?: SendHandle,
  options?: object,
  cb?: (err: Error | null) => void,
) => boolean;

function sendOne(send: Send, msg: object, handle?: SendHandle): Promise<void> {
  return new Promise((resolve, reject) => {
    send(msg, handle, {}, (err) => (err ? reject(err) : resolve()));
  });
}

async function adoptOne(send: Send, i: number, udpFd: number, tcpFd: number): Promise<void> {
  const udp = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ fd: udpFd }, () => resolve());
  });
  const tcp = createServer();
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ fd: tcpFd }, () => resolve());
  });
  await sendOne(send, { i, kind: 'udp' }, udp);
  await sendOne(send, { i, kind: 'tcp' }, tcp);
}

/** lines: "<i> ok <udp fd> <tcp fd>" or "<i> error <text>", one per namespace. */
export function adoptAll(lines: string, send: Send): void {
  void (async () => {
    for (const line of lines.split('\n')) {
      const m = /^(\d+) (?:ok (\d+) (\d+)|error (.*))$/.exec(line);
      if (!m) continue;
      const i = Number(m[1]);
      if (m[4] !== undefined) {
        await sendOne(send, { i, error: m[4] });
        continue;
      }
      try {
        await adoptOne(send, i, Number(m[2]), Number(m[3]));
      } catch (err) {
        await sendOne(send, { i, error: `cannot hand over the sockets: ${(err as Error).message}` });
      }
    }
    process.disconnect?.();
    process.exit(0);
  })().catch((err: Error) => {
    process.stderr.write(`socket-helper: ${err.message}\n`);
    process.exit(1);
  });
}
