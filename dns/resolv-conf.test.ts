import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseUpstream } from '../api/task-dns.js';
import {
  embeddedResolvConf,
  hostResolvConf,
  resolvConf,
  searchAndOptions,
  upstreamsFromResolvConf,
} from './resolv-conf.js';

test("a task's resolv.conf: the embedded resolver, search domains and options, ndots:0 by default", () => {
  assert.equal(
    resolvConf({ search: [], options: [] }),
    '# written by swarmlite: the embedded DNS answers service and task names\nnameserver 127.0.0.11\noptions ndots:0\n',
  );
  const text = resolvConf({ search: ['example.com', 'corp.example.'], options: ['timeout:1', 'edns0'] });
  assert.match(text, /^nameserver 127\.0\.0\.11$/m);
  assert.match(text, /^search example\.com corp\.example\.$/m);
  assert.match(text, /^options ndots:0 timeout:1 edns0$/m);
  assert.match(resolvConf({ search: ['.'], options: ['ndots:3'] }), /^options ndots:3$/m);
  assert.doesNotMatch(resolvConf({ search: ['.'], options: [] }), /search/);
});

test('resolv.conf: entries that could inject lines or are not names are refused with one message', () => {
  assert.throws(
    () => resolvConf({ search: ['a.com\nnameserver 1.2.3.4'], options: [] }),
    /invalid DNS search domain/,
  );
  assert.throws(() => resolvConf({ search: ['a b'], options: [] }), /invalid DNS search domain "a b"/);
  assert.throws(() => resolvConf({ search: [], options: ['ndots:1 rotate'] }), /invalid DNS option/);
  assert.throws(() => resolvConf({ search: [], options: [''] }), /invalid DNS option ""/);
});

test("the host's nameservers as upstreams: comments skipped, 127.0.0.11 never used", () => {
  const text =
    '# hi\nnameserver 10.255.255.53\nnameserver 127.0.0.11\n; x\nnameserver  1.1.1.1 # c\nnameserver fe80::1%eth0\nsearch x\n';
  assert.deepEqual(upstreamsFromResolvConf(text), ['10.255.255.53', '1.1.1.1']);
  assert.deepEqual(parseUpstream('1.1.1.1'), { host: '1.1.1.1', port: 53, family: 4 });
  assert.deepEqual(parseUpstream('127.0.0.9:5353'), { host: '127.0.0.9', port: 5353, family: 4 });
  assert.deepEqual(parseUpstream('2001:db8::1'), { host: '2001:db8::1', port: 53, family: 6 });
  assert.deepEqual(parseUpstream('[2001:db8::1]:54'), { host: '2001:db8::1', port: 54, family: 6 });
  for (const bad of ['127.0.0.11', '127.0.0.11:53', 'dns.google', '1.2.3.4:0', '1.2.3.400', ''])
    assert.equal(parseUpstream(bad), undefined, bad);
});

test("a container's resolv.conf on a user network: the embedded resolver with the node's search and options", () => {
  const node = 'nameserver 127.0.0.53\nsearch corp.example lab.example\noptions edns0 trust-ad\n';
  const text = embeddedResolvConf(node, { search: [], options: [] });
  assert.deepEqual(text.split('\n').slice(1), [
    'nameserver 127.0.0.11',
    'search corp.example lab.example',
    'options ndots:0 edns0 trust-ad',
    '',
  ]);
  assert.match(
    embeddedResolvConf(node, { search: ['mine.example'], options: [] }),
    /^search mine\.example$/m,
  );
  // A node file entry that could not be written safely is left out, not refused.
  assert.match(
    embeddedResolvConf('search ok.example bad$name\n', { search: [], options: [] }),
    /^search ok\.example$/m,
  );
  assert.deepEqual(
    searchAndOptions('domain a.example\nsearch b.example # c\noptions ndots:2\noptions rotate\n'),
    {
      search: ['b.example'],
      options: ['ndots:2', 'rotate'],
    },
  );
});

test("a container's resolv.conf on the default bridge: the node's, loopback nameservers dropped, --dns in their place", () => {
  const node = 'nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.example\noptions edns0\n';
  assert.equal(hostResolvConf(node, []), 'nameserver 192.0.2.1\nsearch corp.example\noptions edns0\n');
  assert.equal(
    hostResolvConf(node, ['198.51.100.7']),
    'nameserver 198.51.100.7\nsearch corp.example\noptions edns0\n',
  );
  // Only loopback resolvers (systemd-resolved's stub): Docker's fallback.
  assert.equal(hostResolvConf('nameserver 127.0.0.53\n', []), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(hostResolvConf('', []), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
});
