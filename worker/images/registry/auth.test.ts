// RegistryAuth's decisions with the token server's answers scripted (the real flow against a real
// registry and token server is in registry.test.ts): which header goes out, when a token is fetched
// again, and which realms and answers are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { RegistryAuth } from './auth.js';
import { RegistryError } from './errors.js';
import type { HttpResponse } from './http.js';

const USER = { username: 'u', password: 'p' };
const BASIC = `Basic ${Buffer.from('u:p').toString('base64')}`;

function answer(status: number, body: unknown): HttpResponse {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return { status, headers: {}, body: Readable.from([Buffer.from(text)]) };
}

function scripted(answers: HttpResponse[]) {
  const calls: Array<{ url: URL; authorization: string | undefined }> = [];
  const get = async (url: URL, authorization: string | undefined) => {
    calls.push({ url, authorization });
    const next = answers.shift();
    if (!next) throw new Error('unexpected token request');
    return next;
  };
  return { calls, get };
}

const failure = async (res: HttpResponse) => new RegistryError(`token: ${res.status}`, res.status);
const bearer = (realm: string) => ({ scheme: 'bearer', params: { realm, service: 'svc' } });

test('bearer: a token per scope set, cached until it expires, fetched again when refused', async () => {
  const { calls, get } = scripted([
    answer(200, { token: 't1', expires_in: 300 }),
    answer(200, { access_token: 't2' }),
    answer(200, { token: 't3' }),
  ]);
  const auth = new RegistryAuth('reg', true, USER, get, failure);
  assert.equal(await auth.header(['repository:a:pull'], false), undefined, 'anonymous until challenged');
  auth.learn(bearer('https://auth.example/token'));
  assert.equal(await auth.header(['repository:a:pull'], false), 'Bearer t1');
  assert.equal(await auth.header(['repository:a:pull'], false), 'Bearer t1', 'cached');
  assert.equal(await auth.header(['repository:b:pull,push', 'repository:a:pull'], false), 'Bearer t2');
  assert.equal(await auth.header(['repository:a:pull'], true), 'Bearer t3', 'fresh after a refusal');
  assert.equal(calls.length, 3);
  assert.equal(calls[0].authorization, BASIC, 'the credentials go to the token server');
  assert.equal(calls[0].url.searchParams.get('service'), 'svc');
  assert.deepEqual(calls[1].url.searchParams.getAll('scope'), [
    'repository:b:pull,push',
    'repository:a:pull',
  ]);
});

test('basic: the credentials on every request; without credentials a basic challenge is refused', async () => {
  const { get } = scripted([]);
  const auth = new RegistryAuth('reg', true, USER, get, failure);
  auth.answer({ scheme: 'basic', params: { realm: 'r' } });
  assert.equal(await auth.header(['repository:a:pull'], false), BASIC);
  const anonymous = new RegistryAuth('reg', true, undefined, get, failure);
  assert.throws(
    () => anonymous.answer({ scheme: 'basic', params: {} }),
    /unauthorized: authentication required/,
  );
  assert.throws(
    () => anonymous.answer({ scheme: 'negotiate', params: {} }),
    /unsupported authentication negotiate/,
  );
});

test('bad realms and token answers are one clear error', async () => {
  const cases: Array<[boolean, string, HttpResponse[], RegExp]> = [
    [true, 'http://auth.example/token', [], /token realm that is not HTTPS/],
    [true, 'ftp://auth.example/token', [], /token realm that is not HTTPS/],
    [true, 'not a url', [], /invalid token realm/],
    [true, '', [], /bearer challenge without a realm/],
    [true, 'https://auth.example/t', [answer(401, '')], /unauthorized: incorrect username or password/],
    [true, 'https://auth.example/t', [answer(500, '')], /token: 500/],
    [true, 'https://auth.example/t', [answer(200, 'not json')], /answered with something that is not JSON/],
    [true, 'https://auth.example/t', [answer(200, { nothing: 1 })], /answered without a token/],
  ];
  for (const [overHttps, realm, answers, why] of cases) {
    const { get } = scripted(answers);
    const auth = new RegistryAuth('reg', overHttps, USER, get, failure);
    auth.learn({ scheme: 'bearer', params: realm ? { realm } : {} });
    await assert.rejects(auth.header(['repository:a:pull'], false), why, realm);
  }
  // A registry on plain HTTP (named insecure) may have its token server on plain HTTP too.
  const { get } = scripted([answer(200, { token: 'ok' })]);
  const insecure = new RegistryAuth('reg', false, undefined, get, failure);
  insecure.learn(bearer('http://198.18.0.9:5002/token'));
  assert.equal(await insecure.header([], false), 'Bearer ok');
});
