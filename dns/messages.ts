// Reading queries and writing responses. A query's header and question are read here with bounds
// checks on every byte (the hot path needs only them, and reading them without building an object
// graph is most of what makes the resolver fast); a query carrying anything more (EDNS, or records in
// other sections) is decoded whole by dns-packet, which validates it. Responses are encoded by
// dns-packet, with the client's question copied back byte for byte (its own letter case: some
// clients randomize it and check the echo).
import * as packet from 'dns-packet';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = (typeof RCODE)[keyof typeof RCODE];

const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
export const HEADER_BYTES = 12;
/** The UDP answer size every client takes (RFC 1035); EDNS clients may offer more. */
export const UDP_PLAIN_LIMIT = 512;
/** The EDNS payload size we offer and honour at most (the DNS flag day 2020 value: no fragments). */
export const UDP_EDNS_LIMIT = 1232;
export const TCP_LIMIT = 65535;

export interface ParsedQuery {
  kind: 'query';
  id: number;
  rd: boolean;
  /** End of the question (name, type, class) in the packet; it starts at byte 12. */
  questionEnd: number;
  /** The name in wire form, lower-cased, as a latin1 string: the answer cache's key. */
  key: string;
  type: number;
  class: number;
  /** Only a header and one question: the cached answers apply as they are. */
  plain: boolean;
  /** The client's EDNS UDP payload size when it sent an OPT record (>= 512). */
  ednsUdpSize?: number;
}

export type QueryRead =
  | ParsedQuery
  /** Readable header, unusable message: answer with this rcode (FORMERR, NOTIMP). */
  | { kind: 'error'; id: number; rd: boolean; rcode: Rcode }
  /** Not even a header, or a response: never answered (answering responses invites loops). */
  | { kind: 'drop' };

const DROP: QueryRead = Object.freeze({ kind: 'drop' });

/** Called for every query: one object for a good one, nothing else allocated but the key. */
export function readQuery(msg: Buffer): QueryRead {
  if (msg.length < HEADER_BYTES) return DROP;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & FLAG_QR) return DROP;
  const rd = (flags & FLAG_RD) !== 0;
  if (((flags >> 11) & 0xf) !== 0) return { kind: 'error', id, rd, rcode: RCODE.NOTIMP };
  const formerr = () => ({ kind: 'error', id, rd, rcode: RCODE.FORMERR }) as const;
  if (msg.readUInt16BE(4) !== 1) return formerr();
  let off = HEADER_BYTES;
  for (;;) {
    if (off >= msg.length) return formerr();
    const len = msg[off]!;
    if (len === 0) break;
    if (len > 63) return formerr(); // a compression pointer or a reserved label type: not in a question
    off += len + 1;
    if (off - HEADER_BYTES > 255) return formerr();
  }
  off += 1;
  if (off + 4 > msg.length) return formerr();
  // Label lengths are at most 63, below 'A', so lower-casing the latin1 text only touches letters.
  const key = msg.toString('latin1', HEADER_BYTES, off).toLowerCase();
  const type = msg.readUInt16BE(off);
  const klass = msg.readUInt16BE(off + 2);
  const questionEnd = off + 4;
  const others = msg.readUInt16BE(6) | msg.readUInt16BE(8) | msg.readUInt16BE(10);
  if (others === 0) {
    if (questionEnd !== msg.length) return formerr();
    return { kind: 'query', id, rd, questionEnd, key, type, class: klass, plain: true };
  }
  let decoded: packet.DecodedPacket;
  try {
    decoded = packet.decode(msg);
  } catch {
    return formerr();
  }
  if (packet.decode.bytes !== msg.length) return formerr();
  const opts = (decoded.additionals ?? []).filter((a) => a.type === 'OPT');
  if (opts.length > 1) return formerr(); // RFC 6891 §6.1.1
  const query: ParsedQuery = { kind: 'query', id, rd, questionEnd, key, type, class: klass, plain: false };
  if (opts.length === 1)
    query.ednsUdpSize = Math.max(UDP_PLAIN_LIMIT, (opts[0] as packet.OptAnswer).udpPayloadSize);
  return query;
}

/**
 * The dotted name of a wire-form key (`\x03web\x00` → `web`). A label holding a dot cannot be one of
 * our names (they never do), so it turns into an escaped form that matches nothing.
 */
export function nameOfKey(key: string): string {
  const labels: string[] = [];
  let off = 0;
  while (off < key.length) {
    const len = key.charCodeAt(off);
    if (len === 0) break;
    labels.push(key.slice(off + 1, off + 1 + len).replaceAll('.', '\\.'));
    off += len + 1;
  }
  return labels.join('.');
}

/** How many bytes an answer to this query may take on its transport. */
export function sizeLimit(q: ParsedQuery, transport: 'udp' | 'tcp'): number {
  if (transport === 'tcp') return TCP_LIMIT;
  return q.ednsUdpSize === undefined ? UDP_PLAIN_LIMIT : Math.min(q.ednsUdpSize, UDP_EDNS_LIMIT);
}

export interface ResponseParts {
  id: number;
  rd: boolean;
  rcode: Rcode;
  /** Answers for a name we own. */
  authoritative: boolean;
  /** Records whose names are the (normalized) question name. */
  answers: packet.Answer[];
  /** Add our OPT record (the query had one). */
  edns: boolean;
  limit: number;
}

/**
 * A response with the client's question bytes (`question`, from byte 12 of its query) and as many of
 * the answers as fit in `limit`; when some do not, TC is set and the client retries over TCP.
 */
export function encodeResponse(question: Buffer, parts: ResponseParts): Buffer {
  const additionals: packet.Answer[] = parts.edns
    ? [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: UDP_EDNS_LIMIT,
          extendedRcode: 0,
          ednsVersion: 0,
          flags: 0,
          flag_do: false,
          options: [],
        },
      ]
    : [];
  const flags = (parts.authoritative ? FLAG_AA : 0) | FLAG_RA | (parts.rd ? FLAG_RD : 0) | parts.rcode;
  let answers = parts.answers;
  let body = encodeBody(parts.id, flags, answers, additionals);
  while (question.length + body.length > parts.limit && answers.length > 0) {
    // Rare (a `tasks.` name of dozens of tasks over UDP): drop enough answers to fit, estimated from
    // their mean size so a list of thousands is cut in a step or two, not one record at a time.
    const over = question.length + body.length - parts.limit;
    const mean = (body.length - HEADER_BYTES) / answers.length;
    answers = answers.slice(0, Math.max(0, answers.length - Math.max(1, Math.ceil(over / mean))));
    body = encodeBody(parts.id, flags | FLAG_TC, answers, additionals);
  }
  return spliceQuestion(body, question);
}

function encodeBody(
  id: number,
  flags: number,
  answers: packet.Answer[],
  additionals: packet.Answer[],
): Buffer {
  // dns-packet sets QR from `type` and keeps the rest of `flags` (opcode 0, our rcode).
  return packet.encode({ type: 'response', id, flags, questions: [], answers, additionals });
}

/** Header + the client's question + the encoded sections after the header, with QDCOUNT = 1. */
function spliceQuestion(body: Buffer, question: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + question.length);
  body.copy(out, 0, 0, HEADER_BYTES);
  out.writeUInt16BE(1, 4);
  question.copy(out, HEADER_BYTES);
  body.copy(out, HEADER_BYTES + question.length, HEADER_BYTES);
  return out;
}

/**
 * A response carrying only an rcode: SERVFAIL when upstreams fail, FORMERR/NOTIMP for unusable
 * queries, with the question when the query's was readable.
 */
export function errorResponse(id: number, rd: boolean, rcode: Rcode, question?: Buffer): Buffer {
  const body = encodeBody(id, FLAG_RA | (rd ? FLAG_RD : 0) | rcode, [], []);
  return question ? spliceQuestion(body, question) : body;
}

/** Rewrites a message's id in place (upstream answers carry ours; the client expects its own). */
export function setId(msg: Buffer, id: number): void {
  msg.writeUInt16BE(id, 0);
}

/** The rcode and TC bit of an upstream's response (its header is at least 12 bytes: checked by the caller). */
export function responseFlags(msg: Buffer): { rcode: number; truncated: boolean; isResponse: boolean } {
  const flags = msg.readUInt16BE(2);
  return { rcode: flags & 0xf, truncated: (flags & FLAG_TC) !== 0, isResponse: (flags & FLAG_QR) !== 0 };
}
