import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequest, readEnvFile } from './commands-container.js';

const flags = { restart: 'no', network: 'none', pull: 'missing' };

test('run flags become one create request', () => {
  const req = createRequest(
    'busybox',
    ['sleep', '60'],
    {
      ...flags,
      name: 'web',
      env: ['A=1', 'HOME_FROM_CLI'],
      workdir: '/srv',
      user: '1000:1000',
      hostname: 'h',
      entrypoint: 'sh',
      restart: 'on-failure:3',
      memory: '64m',
      cpus: '1.5',
      network: 'host',
      publish: ['8080:80', '127.0.0.1::53/udp'],
      publishAll: true,
      networkAlias: ['db'],
      dns: ['192.0.2.53', '2001:db8::53'],
      rm: false,
    },
    true,
  );
  assert.deepEqual(req.config, {
    image: 'busybox',
    entrypointSet: true,
    entrypoint: ['sh'],
    cmd: ['sleep', '60'],
    env: ['A=1', 'HOME_FROM_CLI'],
    workdir: '/srv',
    user: '1000:1000',
    hostname: 'h',
  });
  assert.deepEqual(req.hostConfig, {
    restartPolicy: 'on-failure:3',
    autoRemove: false,
    memoryBytes: 64 * 1024 * 1024,
    nanoCpus: 1_500_000_000,
    networkMode: 'host',
    portBindings: [
      { protocol: 'tcp', containerPort: 80, hostPort: 8080, hostIp: '' },
      { protocol: 'udp', containerPort: 53, hostPort: 0, hostIp: '127.0.0.1' },
    ],
    publishAllPorts: true,
    networkAliases: ['db'],
    dns: ['192.0.2.53', '2001:db8::53'],
  });
  assert.equal(req.start, true);
  assert.equal(createRequest('busybox', [], flags, false).config?.entrypointSet, false);
});

test('bad run flags are usage errors (exit 2) before anything is sent', () => {
  const rows: [Record<string, unknown>, RegExp][] = [
    [{ restart: 'sometimes' }, /invalid restart policy 'sometimes'/],
    [{ restart: 'always:2' }, /only be used with 'on-failure'/],
    [{ rm: true, restart: 'always' }, /cannot specify both --restart and --rm/],
    [{ memory: '1k' }, /Minimum memory limit allowed is 6MB/],
    [{ memory: 'lots' }, /invalid --memory 'lots'/],
    [{ cpus: '0.001' }, /Range of CPUs/],
    [{ cpus: 'two' }, /invalid --cpus 'two'/],
    [{ pull: 'sometimes' }, /invalid --pull 'sometimes'/],
    [{ env: ['=x'] }, /invalid --env '=x'/],
    [{ tty: true }, /-i\/-t\) are not supported yet/],
    [{ publish: ['80:http'] }, /invalid -p: invalid container port "http" in "80:http"/],
    [{ publish: ['70000:80'] }, /invalid -p: invalid host port "70000"/],
    [{ networkAlias: ['-x'] }, /invalid --network-alias '-x'/],
    [{ dns: ['resolver.example'] }, /invalid argument "resolver.example" for "--dns" flag/],
    [{ envFile: ['/nonexistent/swl-env'] }, /open \/nonexistent\/swl-env: no such file or directory/],
  ];
  for (const [over, want] of rows)
    assert.throws(
      () => createRequest('busybox', [], { ...flags, ...over }, false),
      (err: Error & { exitCode?: number }) => want.test(err.message) && err.exitCode === 2,
      JSON.stringify(over),
    );
});

test('--env-file: KEY=VALUE lines, KEY alone from the CLI environment, comments and blanks skipped', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-envfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'env');
  writeFileSync(file, '# a comment\nA=1\n\n  B=two words\r\nFROM_CLI\nUNSET\n');
  assert.deepEqual(readEnvFile(file, { FROM_CLI: 'yes' }), ['A=1', 'B=two words', 'FROM_CLI=yes', 'UNSET']);
  writeFileSync(file, 'BAD KEY=1\n');
  assert.throws(() => readEnvFile(file, {}), /whitespace in its name/);
});
