// Issue 18's fuzz suite, bounded for CI (seeded, a fixed number of inputs per decoder, a few seconds
// each): every decoder that reads from the network or disk, fed random bytes and mutations of valid
// input. What each must do: refuse with its own typed error or verdict, never throw anything else,
// never accept a mutated authenticated or checksummed record, and, for the control API, leave the
// store as it was. The embedded DNS is fuzzed over real sockets in dns/resolver.test.ts.
//   SWARMLITE_FUZZ_ROUNDS=100000 node --test dist/test/fuzz/decoders.test.js   (longer runs)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readQuery } from '../../dns/messages.js';
import { decodeEndpoint } from '../../worker/endpoints/records.js';
import { decodePacket, decodeSync, encodePacket, encodeSync, Keyring } from '../../worker/gossip/codec.js';
import {
  decodeEntry,
  decodeHardState,
  decodeMeta,
  encodeEntry,
  encodeHardState,
} from '../../manager/raft/storage/codec.js';
import { CorruptLogError, CorruptStateError } from '../../manager/raft/storage/errors.js';
import type * as grpc from '@grpc/grpc-js';
import { services } from '../../api/rpc.js';
import {
  fixture,
  type ReceivedOf,
  type ServiceMethod,
} from '../../manager/controlapi/service-test-fixtures.js';

const ROUNDS = Number(process.env.SWARMLITE_FUZZ_ROUNDS ?? 3000);

/** mulberry32: the same inputs on every run, so a failure is reproducible by its round. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(buf: Buffer, rand: () => number): Buffer {
  const out = Buffer.from(buf);
  const kind = Math.floor(rand() * 4);
  if (kind === 0 && out.length > 0) out[Math.floor(rand() * out.length)]! ^= 1 << Math.floor(rand() * 8);
  if (kind === 1) return out.subarray(0, Math.floor(rand() * out.length));
  if (kind === 2) return Buffer.concat([out, Buffer.from([Math.floor(rand() * 256)])]);
  if (kind === 3 && out.length > 0) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256);
  return out;
}

const randomBuf = (rand: () => number, max: number) =>
  Buffer.from(Array.from({ length: Math.floor(rand() * max) }, () => Math.floor(rand() * 256)));

test('raft log records: random and mutated entries, hard states and metas refuse with CorruptLogError/CorruptStateError', () => {
  const rand = prng(1);
  const good = encodeEntry({ index: 7, term: 3, type: 0, data: Buffer.from('{"actions":[]}') });
  assert.equal(decodeEntry(7, good).term, 3);
  const hs = encodeHardState({ term: 5, vote: 2, commit: 9 });
  for (let i = 0; i < ROUNDS; i++) {
    const bad = rand() < 0.5 ? mutate(good, rand) : randomBuf(rand, 64);
    if (bad.equals(good)) continue;
    assert.throws(() => decodeEntry(7, bad), CorruptLogError, `round ${i}: ${bad.toString('hex')}`);
    const badHs = rand() < 0.5 ? mutate(hs, rand) : randomBuf(rand, 64);
    if (badHs.equals(hs)) continue;
    try {
      decodeHardState(badHs);
    } catch (err) {
      assert.ok(err instanceof CorruptStateError, `round ${i}: ${String(err)}`);
    }
    try {
      decodeMeta(randomBuf(rand, 96));
    } catch (err) {
      assert.ok(err instanceof CorruptStateError, `round ${i}: ${String(err)}`);
    }
  }
});

test('gossip packets and sync frames: mutations of sealed input are never accepted, nothing throws', () => {
  const rand = prng(2);
  const ring = new Keyring([randomBytes(32)]);
  const packet = encodePacket(
    {
      from: 'n1',
      addr: '198.18.0.11:7946',
      msgs: [{ t: 'alive', node: 'n1', addr: '198.18.0.11:7946', inc: 1 }],
    },
    ring,
  );
  const sync = encodeSync(
    { kind: 'push-pull', from: 'n1', addr: '198.18.0.11:7946', join: false, members: [] },
    ring,
  );
  assert.ok(decodePacket(packet, ring).ok);
  for (let i = 0; i < ROUNDS; i++) {
    const p = mutate(packet, rand);
    if (!p.equals(packet)) assert.equal(decodePacket(p, ring).ok, false, `round ${i}`);
    const s = mutate(sync, rand);
    if (!s.equals(sync)) assert.equal(decodeSync(s, ring).ok, false, `round ${i}`);
    assert.equal(decodePacket(randomBuf(rand, 300), ring).ok, false);
    // Without keys (a plaintext test cluster) random JSON-ish bytes are parsed: still no throw.
    decodePacket(Buffer.concat([Buffer.from([1, 0]), randomBuf(rand, 100)]), new Keyring());
  }
});

test('endpoint records from gossip: random shapes are refused (undefined), never thrown on', () => {
  const rand = prng(3);
  const values: unknown[] = [null, 0, -1, 1e300, '', 'x', '10.0.0.1', true, [], {}, [1], { a: 1 }];
  const pick = () => values[Math.floor(rand() * values.length)];
  const keys = [
    'serviceId',
    'serviceName',
    'taskId',
    'taskName',
    'nodeId',
    'ip',
    'vip',
    'endpointMode',
    'aliases',
    'ports',
  ];
  for (let i = 0; i < ROUNDS; i++) {
    const o: Record<string, unknown> = {};
    for (const k of keys) if (rand() < 0.8) o[k] = pick();
    assert.equal(decodeEndpoint(Buffer.from(JSON.stringify(o))), undefined, JSON.stringify(o));
    decodeEndpoint(randomBuf(rand, 80));
  }
});

test('DNS messages: random and mutated queries are read as a query, an error to answer, or a drop', () => {
  const rand = prng(4);
  const q = Buffer.from('12340100000100000000000003777777076578616d706c6503636f6d0000010001', 'hex');
  for (let i = 0; i < ROUNDS * 3; i++) {
    const r = readQuery(rand() < 0.5 ? mutate(q, rand) : randomBuf(rand, 80));
    assert.ok(['query', 'error', 'drop'].includes(r.kind), `round ${i}`);
  }
});

test('control API handlers: random messages are refused with a gRPC status and change nothing', async () => {
  // Each message goes the way a remote client's does: the client's encoder (a message it cannot encode
  // is never sent), then, some of the time, bytes mutated on the way, then the server's decoder (bytes
  // it cannot decode get INTERNAL from grpc-js, no handler runs) and the handler.
  const control: grpc.ServiceDefinition = services.control().service;
  const rand = prng(5);
  const f = await fixture();
  await f.call('CreateNetwork', { spec: { name: 'appnet' } });
  await f.call('CreateService', { spec: { name: 'web', task: { image: 'host', command: ['true'] } } });
  const handlers: ServiceMethod[] = [
    'CreateNetwork',
    'GetNetwork',
    'RemoveNetwork',
    'CreateService',
    'GetService',
    'UpdateService',
    'RemoveService',
    'RollbackService',
    'GetTask',
    'ListTasks',
  ];
  const leaves: unknown[] = [
    null,
    0,
    -1,
    2 ** 53,
    1.5,
    '',
    'web',
    'appnet',
    '-',
    'x'.repeat(300),
    true,
    [],
    {},
  ];
  const value = (depth: number): unknown => {
    const r = rand();
    if (depth > 2 || r < 0.5) return leaves[Math.floor(rand() * leaves.length)];
    if (r < 0.7) return Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1));
    const fields = [
      'spec',
      'ref',
      'name',
      'task',
      'image',
      'replicated',
      'replicas',
      'ports',
      'networks',
      'version',
      'force',
      'endpoint',
      'mode',
    ];
    return Object.fromEntries(
      Array.from({ length: Math.floor(rand() * 4) }, () => [
        fields[Math.floor(rand() * fields.length)]!,
        value(depth + 1),
      ]),
    );
  };
  const rounds = Math.min(ROUNDS, 1500);
  let refused = 0;
  let delivered = 0;
  for (let i = 0; i < rounds; i++) {
    const method = handlers[Math.floor(rand() * handlers.length)]!;
    const req = value(0);
    const request =
      typeof req === 'object' && req !== null && !Array.isArray(req)
        ? (req as Record<string, unknown>)
        : { ref: req };
    const def = control[method]!;
    let bytes: Buffer;
    let received: ReceivedOf<typeof method>;
    try {
      bytes = def.requestSerialize(request);
      if (rand() < 0.3) bytes = mutate(bytes, rand);
      received = def.requestDeserialize(bytes);
    } catch {
      continue;
    }
    delivered++;
    const before = Buffer.from(f.store.snapshot()).toString();
    try {
      await f.handle(method, received);
    } catch (err) {
      refused++;
      const e = err as { name?: string; code?: number; message?: string };
      assert.equal(
        e.name,
        'GrpcError',
        `round ${i}: ${method}(${JSON.stringify(request)}) threw ${String(err)}`,
      );
      assert.equal(
        Buffer.from(f.store.snapshot()).toString(),
        before,
        `round ${i}: a refused ${method} changed the store`,
      );
    }
  }
  assert.ok(delivered > rounds / 2, `most random messages reach a handler (${delivered}/${rounds})`);
  assert.ok(refused > delivered / 2, `most random calls are refused (${refused}/${delivered})`);
});
