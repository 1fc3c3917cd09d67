import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../lib/errors.js';
import {
  checkConstraints,
  parseBytes,
  parseCpus,
  parseDurationFlag,
  parseEnv,
  parseMode,
  parseNetworkAttachment,
  parsePublish,
  parseRatio,
  splitWords,
} from './service-flags.js';

/** Every bad value is a usage error (exit 2) whose one line names the flag. */
function assertUsage(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
}

test('--publish short forms: PUBLISHED:TARGET, /udp, and a bare target (dynamic published port)', () => {
  assert.deepEqual(parsePublish('5000:80'), {
    protocol: 'tcp',
    targetPort: 80,
    publishedPort: 5000,
    publishMode: 'ingress',
  });
  assert.deepEqual(parsePublish('5000:80/udp'), {
    protocol: 'udp',
    targetPort: 80,
    publishedPort: 5000,
    publishMode: 'ingress',
  });
  assert.deepEqual(parsePublish('80'), {
    protocol: 'tcp',
    targetPort: 80,
    publishedPort: 0,
    publishMode: 'ingress',
  });
  assert.equal(parsePublish('53/UDP').protocol, 'udp');
});

test('--publish long form, with host mode', () => {
  assert.deepEqual(parsePublish('published=5000,target=80,protocol=udp,mode=host'), {
    protocol: 'udp',
    targetPort: 80,
    publishedPort: 5000,
    publishMode: 'host',
  });
  assert.deepEqual(parsePublish('target=8080'), {
    protocol: 'tcp',
    targetPort: 8080,
    publishedPort: 0,
    publishMode: 'ingress',
  });
});

test('--publish long form: client-address and idle-timeout, in any order', () => {
  assert.deepEqual(parsePublish('published=5000,target=80,client-address=preserve,idle-timeout=1h'), {
    protocol: 'tcp',
    targetPort: 80,
    publishedPort: 5000,
    publishMode: 'ingress',
    preserveClientAddress: true,
    idleTimeoutSeconds: 3600,
  });
  assert.deepEqual(parsePublish('idle-timeout=90s,target=53,protocol=udp'), {
    protocol: 'udp',
    targetPort: 53,
    publishedPort: 0,
    publishMode: 'ingress',
    idleTimeoutSeconds: 90,
  });
  // masquerade is the default: stating it stores nothing, and it may follow a preserve.
  assert.deepEqual(parsePublish('target=80,client-address=masquerade'), parsePublish('target=80'));
  assert.deepEqual(
    parsePublish('target=80,client-address=preserve,client-address=masquerade'),
    parsePublish('target=80'),
  );
  assert.equal(parsePublish('target=80,mode=host,client-address=masquerade').publishMode, 'host');
  // Host mode has idle timeouts too (its table is the same renderer's).
  assert.equal(parsePublish('target=80,mode=host,idle-timeout=10m').idleTimeoutSeconds, 600);
  assert.equal(parsePublish('target=80,idle-timeout=1s').idleTimeoutSeconds, 1);
  assert.equal(parsePublish('target=80,idle-timeout=576h').idleTimeoutSeconds, 2_073_600);
  assert.equal(parsePublish('target=80,idle-timeout=1m30s', '--publish-add').idleTimeoutSeconds, 90);
});

test('--publish refuses bad client-address and idle-timeout values with one line', () => {
  assertUsage(
    () => parsePublish('target=80,client-address=real'),
    /client-address must be preserve or masquerade/,
  );
  assertUsage(
    () => parsePublish('target=80,client-address='),
    /client-address must be preserve or masquerade/,
  );
  assertUsage(
    () => parsePublish('target=80,client-address=preserve,mode=host'),
    /client-address=preserve is for ingress mode/,
  );
  assertUsage(
    () => parsePublish('mode=host,target=80,client-address=preserve', '--publish-add'),
    /invalid --publish-add .*client-address=preserve is for ingress mode/,
  );
  for (const bad of ['0s', '500ms', '1.5s', '577h', '3600', 'soon', '-1s', '']) {
    assertUsage(
      () => parsePublish(`target=80,idle-timeout=${bad}`),
      /idle-timeout must be whole seconds from 1s to 576h/,
    );
  }
});

test('--publish refuses bad specs with one line naming the problem', () => {
  assertUsage(() => parsePublish('abc'), /--publish 'abc': 'abc' is not a port number/);
  assertUsage(() => parsePublish('5000:70000'), /port 70000 is out of range/);
  assertUsage(() => parsePublish('0:80'), /port 0 is out of range/);
  assertUsage(() => parsePublish('5000:80/sctp'), /protocol must be tcp or udp/);
  assertUsage(() => parsePublish('1:2:3'), /use \[PUBLISHED:\]TARGET/);
  assertUsage(() => parsePublish(':80'), /'' is not a port number/);
  assertUsage(() => parsePublish('published=5000'), /target= is required/);
  assertUsage(() => parsePublish('target=80,mode=bridge'), /mode must be ingress or host/);
  assertUsage(() => parsePublish('target=80,colour=red'), /unknown field 'colour'/);
});

test("memory sizes in docker's binary units", () => {
  assert.equal(parseBytes('--limit-memory', '512m'), 512 * 1024 * 1024);
  assert.equal(parseBytes('--limit-memory', '1g'), 1024 ** 3);
  assert.equal(parseBytes('--limit-memory', '1G'), 1024 ** 3);
  assert.equal(parseBytes('--limit-memory', '100k'), 102_400);
  assert.equal(parseBytes('--limit-memory', '1.5GiB'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('--limit-memory', '4096'), 4096);
  assert.equal(parseBytes('--limit-memory', '64mb'), 64 * 1024 ** 2);
  assertUsage(() => parseBytes('--reserve-memory', 'lots'), /--reserve-memory 'lots'/);
  assertUsage(() => parseBytes('--limit-memory', '-1m'), /--limit-memory/);
  assertUsage(() => parseBytes('--limit-memory', '5x'), /--limit-memory/);
});

test('CPUs as decimals → nano-CPUs, exactly', () => {
  assert.equal(parseCpus('--limit-cpu', '0.5'), 500_000_000);
  assert.equal(parseCpus('--limit-cpu', '2'), 2_000_000_000);
  assert.equal(parseCpus('--limit-cpu', '1.25'), 1_250_000_000);
  assert.equal(parseCpus('--limit-cpu', '0.000000001'), 1);
  assertUsage(() => parseCpus('--limit-cpu', '0.0000000001'), /--limit-cpu/);
  assertUsage(() => parseCpus('--reserve-cpu', '-1'), /--reserve-cpu/);
  assertUsage(() => parseCpus('--reserve-cpu', 'half'), /--reserve-cpu 'half'/);
});

test('Go-style durations, and 0', () => {
  assert.equal(parseDurationFlag('--update-delay', '10s'), 10_000);
  assert.equal(parseDurationFlag('--update-delay', '1m30s'), 90_000);
  assert.equal(parseDurationFlag('--update-delay', '500ms'), 500);
  assert.equal(parseDurationFlag('--update-delay', '0'), 0);
  assert.equal(parseDurationFlag('--update-delay', '0s'), 0);
  assertUsage(() => parseDurationFlag('--restart-delay', '10'), /--restart-delay '10'/);
  assertUsage(() => parseDurationFlag('--restart-delay', '-5s'), /--restart-delay/);
  assertUsage(() => parseDurationFlag('--restart-delay', 'soon'), /--restart-delay/);
});

test('-e KEY=VALUE as given; -e KEY takes the value from the CLI environment, else stays bare', () => {
  assert.equal(parseEnv('A=1', {}), 'A=1');
  assert.equal(parseEnv('A=', {}), 'A=');
  assert.equal(parseEnv('A=b=c', {}), 'A=b=c');
  assert.equal(parseEnv('HOME', { HOME: '/root' }), 'HOME=/root');
  assert.equal(parseEnv('UNSET', {}), 'UNSET');
  assertUsage(() => parseEnv('=x', {}), /invalid --env '=x'/);
  assertUsage(() => parseEnv('', {}), /invalid --env/);
});

test('--mode and --replicas: default one replica; global refuses --replicas', () => {
  assert.deepEqual(parseMode(undefined, undefined), { replicated: { replicas: 1 }, global: null });
  assert.deepEqual(parseMode('replicated', '3'), { replicated: { replicas: 3 }, global: null });
  assert.deepEqual(parseMode('global', undefined), { replicated: null, global: {} });
  assertUsage(() => parseMode('global', '3'), /--replicas can only be used with replicated mode/);
  assertUsage(() => parseMode('everywhere', undefined), /invalid --mode 'everywhere'/);
  assertUsage(() => parseMode(undefined, 'three'), /invalid --replicas 'three'/);
  assertUsage(() => parseMode(undefined, '-1'), /invalid --replicas/);
  // Refused as typed, not rounded to 100000000000000000000 (issue 18, fault 9).
  assertUsage(
    () => parseMode(undefined, '99999999999999999999'),
    /^invalid --replicas '99999999999999999999': the number is too large$/,
  );
  assert.deepEqual(parseMode(undefined, String(Number.MAX_SAFE_INTEGER)), {
    replicated: { replicas: Number.MAX_SAFE_INTEGER },
    global: null,
  });
});

test('ratios, constraints and networks', () => {
  assert.equal(parseRatio('--update-max-failure-ratio', '0.25'), 0.25);
  assertUsage(() => parseRatio('--update-max-failure-ratio', '1.5'), /between 0 and 1/);
  assertUsage(() => parseRatio('--update-max-failure-ratio', ''), /between 0 and 1/);
  assert.deepEqual(checkConstraints('--constraint', [' node.role==worker ']), ['node.role==worker']);
  assertUsage(() => checkConstraints('--constraint', ['node.role=worker']), /invalid --constraint/);
  assert.deepEqual(parseNetworkAttachment('--network', 'backend'), { target: 'backend', aliases: [] });
  assert.deepEqual(parseNetworkAttachment('--network', 'name=backend,alias=db'), {
    target: 'backend',
    aliases: ['db'],
  });
  assertUsage(() => parseNetworkAttachment('--network', 'alias=db'), /name= is required/);
});

test('--args splits like a shell', () => {
  assert.deepEqual(splitWords('--args', `sh -c 'echo hi there'`), ['sh', '-c', 'echo hi there']);
  assert.deepEqual(splitWords('--args', `echo "a \\"b\\"" c\\ d ''`), ['echo', 'a "b"', 'c d', '']);
  assert.deepEqual(splitWords('--args', '  '), []);
  assertUsage(() => splitWords('--args', `echo 'oops`), /unterminated ' quote/);
});
