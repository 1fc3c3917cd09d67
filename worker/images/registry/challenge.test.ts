import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges } from './challenge.js';

test('WWW-Authenticate challenges as registries send them', () => {
  const cases: Array<[string, Array<{ scheme: string; params: Record<string, string> }>]> = [
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/busybox:pull',
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['basic', [{ scheme: 'basic', params: {} }]],
    [
      'Bearer realm="http://a/token", scope="repository:x:pull,push", Service=reg',
      [
        {
          scheme: 'bearer',
          params: { realm: 'http://a/token', scope: 'repository:x:pull,push', service: 'reg' },
        },
      ],
    ],
    [
      'Basic realm="a \\"quoted\\" realm", Bearer realm="http://t/"',
      [
        { scheme: 'basic', params: { realm: 'a "quoted" realm' } },
        { scheme: 'bearer', params: { realm: 'http://t/' } },
      ],
    ],
    ['Bearer realm="unterminated', [{ scheme: 'bearer', params: { realm: 'unterminated' } }]],
    ['', []],
    ['"garbage"', []],
  ];
  for (const [header, want] of cases) assert.deepEqual(parseChallenges(header), want, header);
});
