import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registryConfigYaml } from './registry-config.js';

test('registry config: HTTPS with htpasswd, as the lab runs it', () => {
  const yaml = registryConfigYaml({
    rootDirectory: '/lab/reg/auth',
    addr: '198.18.0.250:5443',
    tls: { certFile: '/lab/reg/tls.crt', keyFile: '/lab/reg/tls.key' },
    htpasswd: { realm: 'lab-auth', path: '/lab/reg/auth.htpasswd' },
    secret: 'fixed',
  });
  assert.equal(
    yaml,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      '    rootdirectory: /lab/reg/auth',
      '  delete:',
      '    enabled: true',
      'http:',
      '  addr: 198.18.0.250:5443',
      '  secret: fixed',
      '  tls:',
      '    certificate: /lab/reg/tls.crt',
      '    key: /lab/reg/tls.key',
      'auth:',
      '  htpasswd:',
      '    realm: lab-auth',
      '    path: /lab/reg/auth.htpasswd',
      '',
    ].join('\n'),
  );
});

test('registry config: plain HTTP with token auth; a random secret each start; one auth scheme only', () => {
  const token = { realm: 'https://t/token', service: 'reg', issuer: 'swlt', rootCertBundle: '/t.crt' };
  const a = registryConfigYaml({ rootDirectory: '/r', addr: '198.18.0.2:5000', token });
  assert.match(
    a,
    /^auth:\n {2}token:\n {4}realm: https:\/\/t\/token\n {4}service: reg\n {4}issuer: swlt\n {4}rootcertbundle: \/t\.crt$/m,
  );
  assert.doesNotMatch(a, /tls:/);
  const secret = (y: string) => /secret: ([0-9a-f]+)/.exec(y)?.[1];
  assert.notEqual(secret(a), secret(registryConfigYaml({ rootDirectory: '/r', addr: '198.18.0.2:5000' })));
  assert.throws(
    () =>
      registryConfigYaml({ rootDirectory: '/r', addr: 'a:1', token, htpasswd: { realm: 'x', path: '/p' } }),
    /one auth scheme/,
  );
});
