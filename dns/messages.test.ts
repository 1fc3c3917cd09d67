// Queries read, responses written and the prepared answers served: every response is decoded back by
// dns-packet and checked field by field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as packet from 'dns-packet';
import { answerOrders, View } from './answers.js';
import { encodeResponse, errorResponse, readQuery, RCODE, type ParsedQuery } from './messages.js';
import { buildNetworkIndex, ownedNames } from './name-index.js';
import { query, record } from './test-support.js';

// (@types/dns-packet leaves out the decoded rcode, and the data of a record of any type.)
const rcodeOf = (d: packet.DecodedPacket) => (d as unknown as { rcode: string }).rcode;
const dataOf = (a: packet.Answer) => String((a as { data?: unknown }).data);

const parsed = (msg: Buffer): ParsedQuery => {
  const r = readQuery(msg);
  assert.equal(r.kind, 'query');
  return r as ParsedQuery;
};

test('readQuery: a plain query, an EDNS one, and what is FORMERR, NOTIMP or dropped', () => {
  const q = parsed(query('Web.Example', 'A', 0x1234));
  assert.equal(q.id, 0x1234);
  assert.equal(q.rd, true);
  assert.equal(q.key, '\x03web\x07example\x00');
  assert.equal(q.type, 1);
  assert.equal(q.plain, true);
  const e = parsed(query('web', 'AAAA', 1, true));
  assert.equal(e.plain, false);
  assert.equal(e.ednsUdpSize, 1232);

  const ok = query('web', 'A', 0xabcd);
  const header = (flagsHi: number, qd = 1) => {
    const m = Buffer.from(ok);
    m[2] = flagsHi;
    m.writeUInt16BE(qd, 4);
    return m;
  };
  const formerr = { kind: 'error', id: 0xabcd, rd: true, rcode: RCODE.FORMERR };
  assert.deepEqual(readQuery(header(0x01, 0)), formerr, 'no question');
  assert.deepEqual(readQuery(header(0x01, 2)), formerr, 'two questions');
  assert.deepEqual(readQuery(ok.subarray(0, ok.length - 1)), formerr, 'cut short');
  assert.deepEqual(readQuery(Buffer.concat([ok, Buffer.from([0])])), formerr, 'trailing bytes');
  const pointer = Buffer.from(ok);
  pointer[12] = 0xc0;
  assert.deepEqual(readQuery(pointer), formerr, 'a compression pointer in the question');
  const badOpt = Buffer.from(query('web', 'A', 0xabcd, true));
  badOpt.writeUInt16BE(2, 10); // two additionals announced, one present
  assert.deepEqual(readQuery(badOpt), formerr);
  assert.deepEqual(readQuery(header(0x01 | (5 << 3))), {
    kind: 'error',
    id: 0xabcd,
    rd: true,
    rcode: RCODE.NOTIMP,
  });
  assert.deepEqual(readQuery(header(0x81)), { kind: 'drop' }, 'a response');
  assert.deepEqual(readQuery(Buffer.alloc(11)), { kind: 'drop' }, 'no header');
});

test('encodeResponse: the client question echoed, answers cut to the limit with TC', () => {
  const msg = query('Tasks.Big', 'A', 77);
  const q = parsed(msg);
  const answers = Array.from({ length: 100 }, (_, i) => ({
    type: 'A' as const,
    name: 'tasks.big',
    ttl: 0,
    data: `10.0.0.${i + 1}`,
  }));
  const out = encodeResponse(msg.subarray(12, q.questionEnd), {
    id: 77,
    rd: true,
    rcode: RCODE.NOERROR,
    authoritative: true,
    answers,
    edns: false,
    limit: 512,
  });
  assert.ok(out.length <= 512);
  const d = packet.decode(out);
  assert.equal(d.flag_tc, true);
  assert.equal(d.questions![0]!.name, 'Tasks.Big');
  assert.equal(d.answers!.length, 19); // (512 - 12 - 15 question bytes) / 25 per record
  const full = packet.decode(
    encodeResponse(msg.subarray(12, q.questionEnd), {
      id: 77,
      rd: true,
      rcode: RCODE.NOERROR,
      authoritative: true,
      answers,
      edns: false,
      limit: 65535,
    }),
  );
  assert.equal(full.flag_tc, false);
  assert.equal(full.answers!.length, 100);
  const err = packet.decode(errorResponse(9, false, RCODE.SERVFAIL, msg.subarray(12, q.questionEnd)));
  assert.equal(rcodeOf(err), 'SERVFAIL');
  assert.equal(err.id, 9);
  assert.equal(err.questions![0]!.name, 'Tasks.Big');
});

const index = buildNetworkIndex([
  record({ serviceName: 'web', taskId: 't1', ip: '10.0.1.5', vip: '10.0.1.2' }),
  record({ serviceName: 'web', taskId: 't2', ip: '10.0.1.6', vip: '10.0.1.2' }),
  record({ serviceName: 'rr', taskId: 't3', ip: '10.0.1.7', endpointMode: 'dnsrr' }),
  record({ serviceName: 'rr', taskId: 't4', ip: '10.0.1.8', endpointMode: 'dnsrr' }),
  record({ serviceName: 'rr', taskId: 't5', ip: '10.0.1.9', endpointMode: 'dnsrr' }),
]);
const elsewhere = buildNetworkIndex([
  record({ serviceName: 'hidden', taskId: 'h1', ip: '10.0.9.5', vip: '10.0.9.2' }),
]);

function ask(
  view: View,
  name: string,
  type: packet.RecordType,
  opts: { id?: number; edns?: boolean; tcp?: boolean } = {},
) {
  const msg = query(name, type, opts.id ?? 4242, opts.edns ?? false);
  const out = view.answer(msg, parsed(msg), opts.tcp ? 'tcp' : 'udp');
  return out && packet.decode(out);
}

test('view: cached answers carry the client id, RD and question case; AAAA empty; NXDOMAIN; forward', () => {
  const view = new View([index], ownedNames([index, elsewhere]));
  for (let i = 0; i < 3; i++) {
    const d = ask(view, i === 1 ? 'WeB' : 'web', 'A', { id: 100 + i })!;
    assert.equal(d.id, 100 + i);
    assert.equal(d.flag_qr && d.flag_aa && d.flag_rd && d.flag_ra, true);
    assert.equal(rcodeOf(d), 'NOERROR');
    assert.equal(d.questions![0]!.name, i === 1 ? 'WeB' : 'web');
    assert.deepEqual(d.answers, [
      { name: 'web', type: 'A', ttl: 60, class: 'IN', flush: false, data: '10.0.1.2' },
    ]);
  }
  const aaaa = ask(view, 'web', 'AAAA')!;
  assert.equal(rcodeOf(aaaa), 'NOERROR');
  assert.deepEqual(aaaa.answers, []);
  assert.equal(aaaa.questions![0]!.type, 'AAAA');
  assert.equal(rcodeOf(ask(view, 'hidden', 'A')!), 'NXDOMAIN');
  assert.equal(rcodeOf(ask(view, 'hidden', 'AAAA')!), 'NXDOMAIN');
  assert.equal(ask(view, 'example.com', 'A'), undefined);
  const ptr = ask(view, '5.1.0.10.in-addr.arpa', 'PTR')!;
  assert.deepEqual(ptr.answers!.map(dataOf), ['web.1.t1']);
  const edns = ask(view, 'web', 'A', { edns: true })!;
  assert.equal(edns.additionals![0]!.type, 'OPT');
  assert.deepEqual(edns.answers!.map(dataOf), ['10.0.1.2']);
  assert.deepEqual(ask(view, 'tasks.web', 'A', { tcp: true })!.answers!.map(dataOf).sort(), [
    '10.0.1.5',
    '10.0.1.6',
  ]);
});

test('view: a shuffled name puts every address first, picked at random per query', () => {
  let r = 0;
  const seq = [0.1, 0.5, 0.9, 0.1, 0.5, 0.9];
  const view = new View([index], ownedNames([index]), () => seq[r++ % seq.length]!);
  const firsts = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const d = ask(view, 'rr', 'A')!;
    assert.deepEqual(d.answers!.map(dataOf).sort(), ['10.0.1.7', '10.0.1.8', '10.0.1.9']);
    firsts.add(dataOf(d.answers![0]!));
  }
  assert.equal(firsts.size, 3);
  assert.equal(answerOrders(['a', 'b', 'c'], true, Math.random).length, 3);
  assert.equal(
    answerOrders(
      Array.from({ length: 40 }, (_, i) => `${i}`),
      true,
      Math.random,
    ).length,
    16,
  );
  assert.deepEqual(answerOrders(['a', 'b'], false, Math.random), [['a', 'b']]);
});
