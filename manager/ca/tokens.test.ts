import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caDigest, createRootCA } from './certs.js';
import { JoinTokenError, TOKEN_SECRET_LENGTH, newJoinToken, parseJoinToken, tokenMatches } from './tokens.js';

const DIGEST = 'a'.repeat(50);
const SECRET = 'b'.repeat(25);

test('a new token is SWMTKN-1-<digest of the CA>-<25-char secret>, fresh each time', async () => {
  const ca = await createRootCA('c1');
  const token = newJoinToken(ca.certPem);
  assert.match(token, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  const parsed = parseJoinToken(token);
  assert.equal(parsed.caDigest, caDigest(ca.certPem));
  assert.equal(parsed.secret.length, TOKEN_SECRET_LENGTH);
  const secrets = new Set(Array.from({ length: 50 }, () => parseJoinToken(newJoinToken(ca.certPem)).secret));
  assert.equal(secrets.size, 50);
});

test('well-formed tokens parse (surrounding whitespace is ignored)', () => {
  assert.deepEqual(parseJoinToken(`SWMTKN-1-${DIGEST}-${SECRET}`), { caDigest: DIGEST, secret: SECRET });
  assert.deepEqual(parseJoinToken(` SWMTKN-1-${DIGEST}-${SECRET}\n`), { caDigest: DIGEST, secret: SECRET });
});

const malformed: Array<[string, string, RegExp]> = [
  ['empty', '', /found 1 dash-separated parts/],
  ['too few parts', `SWMTKN-1-${DIGEST}`, /found 3 dash-separated parts/],
  ['too many parts', `SWMTKN-1-${DIGEST}-${SECRET}-x`, /found 5 dash-separated parts/],
  ['wrong prefix', `SWMTKM-1-${DIGEST}-${SECRET}`, /must start with SWMTKN-/],
  ['lowercase prefix', `swmtkn-1-${DIGEST}-${SECRET}`, /must start with SWMTKN-/],
  ['wrong version', `SWMTKN-2-${DIGEST}-${SECRET}`, /unsupported version "2"/],
  ['short digest', `SWMTKN-1-${DIGEST.slice(1)}-${SECRET}`, /CA digest must be 50 characters, not 49/],
  ['long digest', `SWMTKN-1-${DIGEST}a-${SECRET}`, /CA digest must be 50 characters, not 51/],
  [
    'digest charset',
    `SWMTKN-1-${'A'.repeat(50)}-${SECRET}`,
    /CA digest must be lowercase letters and digits/,
  ],
  ['short secret', `SWMTKN-1-${DIGEST}-${SECRET.slice(2)}`, /secret must be 25 characters, not 23/],
  ['secret charset', `SWMTKN-1-${DIGEST}-${'_'.repeat(25)}`, /secret must be lowercase letters and digits/],
];

for (const [name, token, message] of malformed) {
  test(`malformed token refused: ${name}`, () => {
    assert.throws(
      () => parseJoinToken(token),
      (err: Error) =>
        err instanceof JoinTokenError && message.test(err.message) && !err.message.includes(SECRET),
    );
  });
}

test('tokenMatches compares whole tokens, and an empty expected token matches nothing', () => {
  const token = `SWMTKN-1-${DIGEST}-${SECRET}`;
  assert.equal(tokenMatches(token, token), true);
  assert.equal(tokenMatches(token, `SWMTKN-1-${DIGEST}-${'c'.repeat(25)}`), false);
  assert.equal(tokenMatches(token, `SWMTKN-1-${'d'.repeat(50)}-${SECRET}`), false);
  assert.equal(tokenMatches(token, token + 'x'), false);
  assert.equal(tokenMatches('', ''), false);
});
