// Length-prefixed frames over TCP for push-pull and bulk sync: a 4-byte big-endian length, then
// the codec's bytes. One request frame, one reply frame per connection. Both sides bound the frame
// size and the time a peer may take, so a slow or hostile peer costs one socket, not memory.
import type { Socket } from 'node:net';

export class FrameError extends Error {
  constructor(readonly reason: 'too-long' | 'timeout' | 'closed') {
    super(`gossip stream: ${reason}`);
  }
}

export function frame(body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** Reads exactly one frame from `socket`, rejecting past `maxBytes` or `timeoutMs`. */
export function readFrame(socket: Socket, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    let want = -1;
    const done = (err: Error | undefined, value?: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.length;
      if (want < 0 && have >= 4) {
        want = Buffer.concat(chunks).readUInt32BE(0);
        if (want > maxBytes) return done(new FrameError('too-long'));
      }
      if (want >= 0 && have >= 4 + want) done(undefined, Buffer.concat(chunks).subarray(4, 4 + want));
    };
    const onEnd = () => done(new FrameError('closed'));
    const onError = (err: Error) => done(err);
    const timer = setTimeout(() => done(new FrameError('timeout')), timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}
