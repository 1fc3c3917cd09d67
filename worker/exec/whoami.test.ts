import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { formatAddress, renderWhoami, startWhoami, type WhoamiFacts } from './whoami.js';

const facts: WhoamiFacts = {
  name: 'web.1.abc',
  hostname: 'abc',
  node: 'node1',
  ips: ['10.0.1.3', '172.18.0.3'],
  remoteAddr: '10.0.1.9:40000',
  requestLine: 'GET /?x=1 HTTP/1.1',
  headers: [['Host', 'web']],
};

test('whoami text answer: one fact per line, each IP on its own line, then the request', () => {
  const { type, body } = renderWhoami(facts, new URLSearchParams('x=1'));
  assert.equal(type, 'text/plain; charset=utf-8');
  assert.equal(
    body,
    'Name: web.1.abc\nHostname: abc\nNode: node1\nIP: 10.0.1.3\nIP: 172.18.0.3\n' +
      'RemoteAddr: 10.0.1.9:40000\nGET /?x=1 HTTP/1.1\nHost: web\n',
  );
});

test('whoami JSON answer with ?format=json', () => {
  const { type, body } = renderWhoami(facts, new URLSearchParams('format=json'));
  assert.equal(type, 'application/json');
  assert.deepEqual(JSON.parse(body), {
    name: 'web.1.abc',
    hostname: 'abc',
    node: 'node1',
    ips: ['10.0.1.3', '172.18.0.3'],
    remoteAddr: '10.0.1.9:40000',
    request: 'GET /?x=1 HTTP/1.1',
    headers: [['Host', 'web']],
  });
});

test('client addresses: IPv4-mapped shown as IPv4, IPv6 bracketed', () => {
  assert.equal(formatAddress('::ffff:10.0.0.1', 80), '10.0.0.1:80');
  assert.equal(formatAddress('fe80::1', 80), '[fe80::1]:80');
  assert.equal(formatAddress('127.0.0.1', 5), '127.0.0.1:5');
});

test('whoami server answers with the task facts from its environment and the client address', async (t) => {
  const env = { SWARMLITE_TASK_NAME: 'svc.2.xyz', SWARMLITE_NODE_HOSTNAME: 'nodeA' };
  const server = await startWhoami(0, '127.0.0.1', env);
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  const text = await (await fetch(`http://127.0.0.1:${port}/hello`)).text();
  assert.match(text, /^Name: svc\.2\.xyz\nHostname: .+\nNode: nodeA\n/);
  assert.match(text, /\nRemoteAddr: 127\.0\.0\.1:\d+\nGET \/hello HTTP\/1\.1\n/);
  const json = (await (await fetch(`http://127.0.0.1:${port}/?format=json`)).json()) as {
    name: string;
    ips: unknown;
  };
  assert.equal(json.name, 'svc.2.xyz');
  assert.ok(Array.isArray(json.ips));
});
