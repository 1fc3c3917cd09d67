// Run inside a task's network namespace (nsenter --net=PATH -- node socket-helper.js): binds the
// embedded resolver's UDP socket and TCP listener at 127.0.0.11:53 there, hands both to the daemon
// over the IPC channel it was started with, and exits. The sockets stay in the task's namespace,
// owned by the daemon from then on; this process lives for a few milliseconds.
//   argv: [address] [port]   (defaults 127.0.0.11 53)
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

const address = process.argv[2] ?? '127.0.0.11';
const port = Number(process.argv[3] ?? 53);

const send = process.send?.bind(process);
if (!send) {
  process.stderr.write('socket-helper: start me with an IPC channel (the daemon does)\n');
  process.exit(2);
}

const fail = (what: string, err: NodeJS.ErrnoException) => {
  const hint = err.code === 'EADDRNOTAVAIL' ? ' (is lo up in this namespace?)' : '';
  const text = `cannot bind ${what} ${address}:${port}: ${err.code ?? err.message}${hint}`;
  send({ error: text }, undefined, {}, () => process.exit(1));
  setTimeout(() => process.exit(1), 1000).unref();
};

const udp = createSocket({ type: 'udp4', reuseAddr: false });
udp.once('error', (err) => fail('udp', err));
udp.bind({ address, port, exclusive: true }, () => {
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
});
