// Fuzzing the control API's handlers (issue 18, bounded for CI; lib/fuzz.ts): random messages to the
// network, service and task RPCs are refused with a gRPC status and leave the store as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { services } from '../../api/rpc.js';
import { FUZZ_ROUNDS, mutate, prng } from '../../lib/fuzz.js';
import { fixture, type ReceivedOf, type ServiceMethod } from './service-test-fixtures.js';

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
  const rounds = Math.min(FUZZ_ROUNDS, 1500);
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
