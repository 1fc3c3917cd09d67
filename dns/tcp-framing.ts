// DNS over TCP: every message is preceded by its length in two bytes (RFC 1035 §4.2.2). The decoder
// holds at most one incomplete message (65,537 bytes), whatever a peer sends; a length that cannot
// even hold a header ends the connection, as no valid message follows it.

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

const MIN_MESSAGE_BYTES = 12;

export class FrameDecoder {
  private held: Buffer = Buffer.alloc(0);

  /** The complete messages `chunk` finishes, in order; throws FramingError on a short length prefix. */
  push(chunk: Buffer): Buffer[] {
    let buf = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    const out: Buffer[] = [];
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (len < MIN_MESSAGE_BYTES)
        throw new FramingError(`a DNS message of ${len} bytes cannot hold a header (12 bytes)`);
      if (buf.length < 2 + len) break;
      out.push(buf.subarray(2, 2 + len));
      buf = buf.subarray(2 + len);
    }
    // Copied so a small remainder does not pin the whole chunk it came in.
    this.held = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
    return out;
  }

  /** Whether part of a message is held (a connection closed now cut a message short). */
  get partial(): boolean {
    return this.held.length > 0;
  }
}

/** A message with its two-byte length prefix, ready to write to a TCP stream. */
export function frame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}
