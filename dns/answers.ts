// Answers for the names a task may resolve, prepared once per (set of networks, name, response shape)
// and served by copying: a query for a cached name costs one buffer copy and three small patches
// (the client's id, its RD bit and its question bytes). The prepared buffers are exactly what
// encodeResponse builds for the query, so the cache changes speed, never content. A view is thrown
// away whenever any network's records change (resolver.ts), so it never outlives its records.
import type * as packet from 'dns-packet';
import { lookup, QTYPE, type LookupResult } from './lookup.js';
import {
  encodeResponse,
  nameOfKey,
  RCODE,
  TCP_LIMIT,
  UDP_EDNS_LIMIT,
  UDP_PLAIN_LIMIT,
  type ParsedQuery,
} from './messages.js';
import type { NetworkIndex, OwnedNames } from './name-index.js';

/** Response shapes: transport × whether the query carried EDNS (we then add our OPT record). */
const enum Shape {
  PlainUdp = 0,
  PlainTcp = 1,
  EdnsUdp = 2,
  EdnsTcp = 3,
}
const SHAPE_LIMITS = [UDP_PLAIN_LIMIT, TCP_LIMIT, UDP_EDNS_LIMIT, TCP_LIMIT];
/** Shuffled names keep this many orders ready, one picked at random per query. */
const MAX_ORDERS = 16;
/** A view caches at most this many names (every owned name fits many times over). */
const MAX_CACHED = 20_000;

type Owned = Exclude<LookupResult, { kind: 'forward' }>;

interface PreparedName {
  result: Owned;
  /** The orders the answer's records are served in (one unless shuffled). */
  orders: readonly (readonly string[])[];
  /** [shape][0: the answered type, 1: any other type][order] → the response template. */
  templates: (Buffer[] | undefined)[][];
  /** The name as asked (normalized), for the answer records. */
  name: string;
  /** The question bytes of the query that filled the cache: templates carry them until patched. */
  question: Buffer;
}

/** The orders a shuffled answer is served in: every rotation (each address first equally often). */
export function answerOrders(data: readonly string[], shuffle: boolean, random: () => number): string[][] {
  if (!shuffle || data.length < 2) return [[...data]];
  if (data.length <= MAX_ORDERS) return data.map((_, i) => [...data.slice(i), ...data.slice(0, i)]);
  return Array.from({ length: MAX_ORDERS }, () => fisherYates([...data], random));
}

function fisherYates<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** The answer records of a lookup result in one order. */
function answerRecords(name: string, result: Owned, order: readonly string[]): packet.Answer[] {
  if (result.kind !== 'answer') return [];
  return order.map(
    (data) => ({ type: result.type, name, ttl: result.ttl, class: 'IN', data }) as packet.Answer,
  );
}

/** Whether a query of this type gets the name's records (A for names, PTR for reverse names, or ANY). */
function answersType(r: Owned, qtype: number): boolean {
  if (r.kind !== 'answer') return false;
  return qtype === QTYPE.ANY || qtype === (r.type === 'A' ? QTYPE.A : QTYPE.PTR);
}

export class View {
  private readonly cache = new Map<string, PreparedName>();

  constructor(
    readonly indexes: readonly NetworkIndex[],
    private readonly owned: OwnedNames,
    private readonly random: () => number = Math.random,
  ) {}

  /** The response to a query from a task of this view, or undefined when it is to be forwarded. */
  answer(msg: Buffer, q: ParsedQuery, transport: 'udp' | 'tcp'): Buffer | undefined {
    let prepared = this.cache.get(q.key);
    if (!prepared) {
      const name = nameOfKey(q.key);
      // Looked up for every type at once, so one cache entry serves any later query type for the name;
      // answersType then decides per query whether its records belong in the answer.
      const result = lookup(this.indexes, this.owned, name, QTYPE.ANY, q.class);
      if (result.kind === 'forward') return undefined;
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      prepared = {
        result,
        orders: result.kind === 'answer' ? answerOrders(result.data, result.shuffle, this.random) : [[]],
        templates: [[], [], [], []],
        name: name.toLowerCase(),
        question: Buffer.from(msg.subarray(12, q.questionEnd)),
      };
      this.cache.set(q.key, prepared);
    }
    // Classes other than IN/ANY were sent upstream by lookup() the first time: keep doing so.
    if (q.class !== 1 && q.class !== 255) return undefined;
    const shape = this.shape(q, transport);
    if (shape === undefined) return this.build(prepared, msg, q);
    const r = prepared.result;
    const wanted = answersType(r, q.type);
    const kind = wanted ? 0 : 1;
    const byKind = prepared.templates[shape]!;
    let variants = byKind[kind];
    if (!variants) {
      const orders = wanted ? prepared.orders : [[]];
      variants = orders.map((order) =>
        encodeResponse(prepared.question, {
          id: 0,
          rd: false,
          rcode: r.kind === 'nxdomain' ? RCODE.NXDOMAIN : RCODE.NOERROR,
          authoritative: true,
          answers: wanted ? answerRecords(prepared.name, r, order) : [],
          edns: shape === Shape.EdnsUdp || shape === Shape.EdnsTcp,
          limit: SHAPE_LIMITS[shape]!,
        }),
      );
      byKind[kind] = variants;
    }
    const template =
      variants.length === 1 ? variants[0]! : variants[Math.floor(this.random() * variants.length)]!;
    const out = Buffer.allocUnsafe(template.length);
    template.copy(out);
    out.writeUInt16BE(q.id, 0);
    if (q.rd) out[2]! |= 0x01;
    msg.copy(out, 12, 12, q.questionEnd);
    return out;
  }

  private shape(q: ParsedQuery, transport: 'udp' | 'tcp'): Shape | undefined {
    if (q.ednsUdpSize === undefined) return transport === 'udp' ? Shape.PlainUdp : Shape.PlainTcp;
    if (transport === 'tcp') return Shape.EdnsTcp;
    // A client offering less than our EDNS size gets its answer built for its own limit.
    return q.ednsUdpSize >= UDP_EDNS_LIMIT ? Shape.EdnsUdp : undefined;
  }

  /** An EDNS query over UDP offering less than our size: built for its own limit, not cached. */
  private build(prepared: PreparedName, msg: Buffer, q: ParsedQuery): Buffer {
    const r = prepared.result;
    const wanted = answersType(r, q.type);
    const order = prepared.orders[Math.floor(this.random() * prepared.orders.length)]!;
    return encodeResponse(msg.subarray(12, q.questionEnd), {
      id: q.id,
      rd: q.rd,
      rcode: r.kind === 'nxdomain' ? RCODE.NXDOMAIN : RCODE.NOERROR,
      authoritative: true,
      answers: wanted ? answerRecords(prepared.name, r, order) : [],
      edns: true,
      limit: Math.max(UDP_PLAIN_LIMIT, q.ednsUdpSize ?? UDP_PLAIN_LIMIT),
    });
  }
}
