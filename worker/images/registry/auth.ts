// How a client authenticates to one registry, learnt from its 401 challenge (WWW-Authenticate):
//
// - `Basic`: the user's credentials on every request;
// - `Bearer realm,service`: a token from the realm (Docker Hub's flow), asked for the scopes a
//   request needs (`repository:team/app:pull,push`), with the user's credentials as basic auth when
//   there are some (anonymous otherwise); tokens are cached per scope set until they expire.
//
// A token realm on plain HTTP is refused for a registry reached over HTTPS: the credentials would
// cross the network in clear.
import type { Credentials } from '../credentials.js';
import type { Challenge } from './challenge.js';
import { RegistryError } from './errors.js';
import { discard, readBody, type HttpResponse } from './http.js';

/** GETs a URL (following redirects), sending `authorization` to the URL's own origin only. */
export type TokenGet = (url: URL, authorization: string | undefined) => Promise<HttpResponse>;

export class RegistryAuth {
  private challenge?: Challenge;
  private basic = false;
  private readonly tokens = new Map<string, { token: string; expires: number }>();

  constructor(
    private readonly domain: string,
    private readonly overHttps: boolean,
    private readonly credentials: Credentials | undefined,
    private readonly get: TokenGet,
    private readonly failure: (res: HttpResponse) => Promise<RegistryError>,
  ) {}

  /** A challenge seen ahead of time (GET /v2/): remembered, never an error. */
  learn(challenge: Challenge): void {
    this.challenge = challenge;
    this.basic = challenge.scheme === 'basic' && this.credentials !== undefined;
  }

  /** A challenge a request was refused with: the next attempt answers it, or this says why it cannot. */
  answer(challenge: Challenge): void {
    if (challenge.scheme !== 'basic' && challenge.scheme !== 'bearer') {
      throw new RegistryError(
        `registry ${this.domain} asks for unsupported authentication ${challenge.scheme}`,
        401,
      );
    }
    if (challenge.scheme === 'basic' && !this.credentials) throw unauthorized(undefined, 401);
    this.learn(challenge);
  }

  /** The Authorization header for a request needing `scopes` (`fresh`: never a cached token). */
  async header(scopes: string[], fresh: boolean): Promise<string | undefined> {
    if (this.basic && this.credentials) return basicAuthorization(this.credentials);
    if (this.challenge?.scheme !== 'bearer') return undefined;
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && !fresh && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.fetchToken(this.challenge, scopes);
    this.tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  /** The token flow: GET realm?service=..&scope=.. */
  private async fetchToken(
    challenge: Challenge,
    scopes: string[],
  ): Promise<{ token: string; expires: number }> {
    const realm = challenge.params.realm;
    if (!realm)
      throw new RegistryError(`registry ${this.domain} sent a bearer challenge without a realm`, 401);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(`registry ${this.domain} sent an invalid token realm ${realm}`, 401);
    }
    if (url.protocol !== 'https:' && (url.protocol !== 'http:' || this.overHttps)) {
      throw new RegistryError(`registry ${this.domain} sent a token realm that is not HTTPS (${realm})`, 401);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const res = await this.get(url, this.credentials ? basicAuthorization(this.credentials) : undefined);
    if (res.status === 401 || res.status === 403) {
      discard(res.body);
      throw unauthorized(this.credentials, res.status);
    }
    if (res.status !== 200) throw await this.failure(res);
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      doc = JSON.parse((await readBody(res.body, 1 << 20)).toString('utf8')) as typeof doc;
    } catch {
      throw new RegistryError(
        `token server ${url.origin} answered with something that is not JSON`,
        res.status,
      );
    }
    const token =
      typeof doc.token === 'string'
        ? doc.token
        : typeof doc.access_token === 'string'
          ? doc.access_token
          : '';
    if (!token) throw new RegistryError(`token server ${url.origin} answered without a token`, res.status);
    // The spec's default lifetime is 60 s; renew a little early.
    const seconds = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    return { token, expires: Date.now() + Math.max(1, seconds - 10) * 1000 };
  }
}

/** Docker's words for a refused login or an anonymous request that needs one. */
export function unauthorized(credentials: Credentials | undefined, status: number): RegistryError {
  const how = credentials ? 'incorrect username or password' : 'authentication required';
  return new RegistryError(`unauthorized: ${how}`, status, 'UNAUTHORIZED');
}

function basicAuthorization({ username, password }: Credentials): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
