import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  familiarName,
  familiarString,
  formatReference,
  InvalidReferenceError,
  parseNormalizedNamed,
  parseReference,
  registryHost,
  withDigest,
  withTag,
} from './reference.js';

const D = 'sha256:' + 'ab'.repeat(32);

test('references are normalized as docker pull reads them, and printed as docker image ls does', () => {
  const cases: Array<[string, string, string, string]> = [
    // input, fully qualified, familiar string, familiar name
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest', 'busybox'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36', 'busybox'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest', 'busybox'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest', 'busybox'],
    ['index.docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest', 'busybox'],
    ['docker.io/library/busybox:musl', 'docker.io/library/busybox:musl', 'busybox:musl', 'busybox'],
    ['user/app', 'docker.io/user/app:latest', 'user/app:latest', 'user/app'],
    ['user/team/app:v1', 'docker.io/user/team/app:v1', 'user/team/app:v1', 'user/team/app'],
    ['library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest', 'library/a/b'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest', 'localhost/app'],
    ['localhost:5000/x', 'localhost:5000/x:latest', 'localhost:5000/x:latest', 'localhost:5000/x'],
    ['localhost:5000/x:v2', 'localhost:5000/x:v2', 'localhost:5000/x:v2', 'localhost:5000/x'],
    [
      '198.18.0.9:5000/a/b',
      '198.18.0.9:5000/a/b:latest',
      '198.18.0.9:5000/a/b:latest',
      '198.18.0.9:5000/a/b',
    ],
    ['[::1]:5000/app', '[::1]:5000/app:latest', '[::1]:5000/app:latest', '[::1]:5000/app'],
    [
      'reg.example.com/app',
      'reg.example.com/app:latest',
      'reg.example.com/app:latest',
      'reg.example.com/app',
    ],
    ['Registry/app', 'Registry/app:latest', 'Registry/app:latest', 'Registry/app'],
    ['my-host.local:443/a_b/c--d/e.f', 'my-host.local:443/a_b/c--d/e.f:latest', '', ''],
    ['foo.com', 'docker.io/library/foo.com:latest', 'foo.com:latest', 'foo.com'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`, 'busybox'],
    [`busybox:1.36@${D}`, `docker.io/library/busybox:1.36@${D}`, `busybox:1.36@${D}`, 'busybox'],
    [`localhost:5000/x@${D}`, `localhost:5000/x@${D}`, `localhost:5000/x@${D}`, 'localhost:5000/x'],
    ['busybox:Tag_1.2-3', 'docker.io/library/busybox:Tag_1.2-3', 'busybox:Tag_1.2-3', 'busybox'],
  ];
  for (const [input, full, familiar, name] of cases) {
    const ref = parseReference(input);
    assert.equal(formatReference(ref), full, input);
    if (familiar) assert.equal(familiarString(ref), familiar, input);
    if (name) assert.equal(familiarName(ref), name, input);
    // Printing then parsing again is stable.
    assert.deepEqual(parseReference(formatReference(ref)), ref, input);
    assert.deepEqual(parseReference(familiarString(ref)), ref, input);
  }
});

test('the parts of a reference', () => {
  assert.deepEqual(parseReference('localhost:5000/team/app:v1'), {
    domain: 'localhost:5000',
    path: 'team/app',
    tag: 'v1',
  });
  assert.deepEqual(parseReference(`busybox@${D}`), {
    domain: 'docker.io',
    path: 'library/busybox',
    digest: D,
  });
  assert.deepEqual(parseNormalizedNamed('busybox'), { domain: 'docker.io', path: 'library/busybox' });
});

test('bad references are refused with one clear error', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty reference/],
    [' busybox', /whitespace/],
    ['busybox ', /whitespace/],
    ['BusyBox', /must be lowercase/],
    ['user/App', /must be lowercase/],
    ['busybox:', /invalid tag/],
    ['busybox:-bad', /invalid tag/],
    [`busybox:${'a'.repeat(129)}`, /invalid tag/],
    ['busybox:a:b', /invalid path component|invalid tag/],
    [':latest', /missing repository name/],
    ['a//b', /empty path component/],
    ['/busybox', /empty path component/],
    ['busybox/', /empty path component/],
    ['-busybox', /invalid path component/],
    ['busy..box', /invalid path component/],
    ['busy!box', /invalid path component/],
    ['bad_host.:5000/x', /invalid registry host/],
    ['host:port/x', /invalid registry host/],
    ['busybox@sha256:abc', /64 lowercase hex/],
    [`busybox@sha256:${'AB'.repeat(32)}`, /64 lowercase hex/],
    [`busybox@sha512:${'ab'.repeat(64)}`, /unsupported digest algorithm sha512/],
    ['busybox@', /malformed digest/],
    ['busybox@latest', /malformed digest/],
    ['ab'.repeat(32), /64-character hexadecimal/],
    [`${'a'.repeat(250)}/${'b'.repeat(10)}`, /longer than 255/],
    ['../etc/passwd', /invalid registry host/],
  ];
  for (const [input, why] of cases) {
    assert.throws(
      () => parseReference(input),
      (err: unknown) => {
        assert.ok(err instanceof InvalidReferenceError, input);
        assert.match(err.message, /^invalid reference format: /);
        assert.match(err.message, why, input);
        return true;
      },
    );
  }
});

test('tag and digest replacement, and the host a registry is reached at', () => {
  const ref = parseReference('busybox:1.36');
  assert.equal(familiarString(withTag(ref, 'v2')), 'busybox:v2');
  assert.equal(familiarString(withDigest(ref, D)), `busybox:1.36@${D}`);
  assert.throws(() => withTag(ref, 'no/slash'), InvalidReferenceError);
  assert.throws(() => withDigest(ref, 'sha256:00'), InvalidReferenceError);
  assert.equal(registryHost('docker.io'), 'registry-1.docker.io');
  assert.equal(registryHost('localhost:5000'), 'localhost:5000');
});
