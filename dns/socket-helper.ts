// Run inside a task's network namespace (nsenter --net=PATH -- node socket-helper.js): binds the
// embedded resolver's UDP socket and TCP listener at 127.0.0.11:53 there, hands both to the daemon
// over the IPC channel it was started with, and exits. The sockets stay in the task's namespace,
// owned by the daemon from then on; this process lives for a few milliseconds.
//   argv: [address] [port]   (defaults 127.0.0.11 53)
// With --adopt, the sockets were bound already, in many namespaces, by the batch binder that
// exec'd this process (socket-batch.ts): they are inherited, listed in $SWARMLITE_DNS_SOCKETS.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { adoptAll } from './socket-adopt.js';

const address = process.argv[2] ?? '127.0.0.11';
const port = Number(process.argv[3] ?? 53);

const sendOrNone = process.send?.bind(process);
if (!sendOrNone) {
  process.stderr.write('socket-helper: start me with an IPC channel (the daemon does)\n');
  process.exit(2);
}
const send = sendOrNone;

const fail = (what: string, err: NodeJS.ErrnoException) => {
  const hint = err.code === 'EADDRNOTAVAIL' ? ' (is lo up in this namespace?)' : '';
  // Worded as the batch binder words it (socket-batch.ts): the daemon prefixes where it was.
  const text = `cannot bind ${what}: ${err.code ?? err.message}${hint}`;
  send({ error: text }, undefined, {}, () => process.exit(1));
  setTimeout(() => process.exit(1), 1000).unref();
};

/**
 * Binding 127.0.0.11 succeeds even where lo is down (the address is local by route), yet nothing
 * would reach the socket: a datagram sent to it from this namespace proves that queries will.
 */
function probe(udp: Socket, done: (err?: string) => void): void {
  const nonce = randomBytes(8);
  const sender = createSocket('udp4');
  const finish = (err?: string) => {
    clearTimeout(timer);
    udp.removeListener('message', onMessage);
    sender.close();
    done(err);
  };
  const onMessage = (m: Buffer) => m.equals(nonce) && finish();
  const timer = setTimeout(() => finish('nothing sent to it arrives'), 1000);
  udp.on('message', onMessage);
  sender.on('error', (err) => finish(err.message));
  sender.send(
    nonce,
    port,
    address,
    (err) => err && finish(`${(err as NodeJS.ErrnoException).code ?? err.message}`),
  );
}

if (process.argv[2] === '--adopt') adoptAll(process.env.SWARMLITE_DNS_SOCKETS ?? '', send);
else bindHere();

function bindHere(): void {
  const udp = createSocket({ type: 'udp4', reuseAddr: false });
  udp.once('error', (err) => fail('udp', err));
  udp.bind({ address, port, exclusive: true }, () =>
    probe(udp, (err) => {
      if (err) {
        const text = `nothing reaches it (${err}): is lo up? (ip link set lo up)`;
        send({ error: text }, undefined, {}, () => process.exit(1));
        return;
      }
      udp.removeAllListeners('error');
      const tcp = createServer();
      tcp.once('error', (err) => fail('tcp', err));
      tcp.listen({ host: address, port, exclusive: true, backlog: 128 }, () => {
        tcp.removeAllListeners('error');
        // One handle per message; Node waits for the daemon's acknowledgement of each before the next.
        send('udp', udp, {}, (err) => {
          if (err) return fail('udp', err);
          send('tcp', tcp, {}, (err2) => {
            if (err2) return fail('tcp', err2);
            process.disconnect?.();
            process.exit(0);
          });
        });
      });
    }),
  );
}
