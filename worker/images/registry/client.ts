// A client for one registry speaking the OCI distribution API (Docker's registry v2).
//
// Authentication follows the registry's 401 challenge (auth.ts). Plain HTTP is used only for
// registries the node names insecure (Docker also treats loopback registries so).
//
// Content is never trusted: a manifest is hashed and must match the digest asked for (or the
// Docker-Content-Digest the registry announces); blobs are returned as streams for the store, which
// hashes them on the way in.
import type { Readable } from 'node:stream';
import type { Credentials } from '../credentials.js';
import { DigestMismatchError, isDigest, sha256Digest } from '../digest.js';
import { MANIFEST_ACCEPT } from '../manifest.js';
import { registryHost } from '../reference.js';
import { RegistryAuth, unauthorized } from './auth.js';
import { parseChallenges } from './challenge.js';
import { RegistryError } from './errors.js';
import { discard, header, httpRequest, readBody, type HttpRequest, type HttpResponse } from './http.js';

export interface RegistryOptions {
  /** Registry domain as in references: `docker.io`, `localhost:5000`. */
  domain: string;
  insecure?: boolean;
  credentials?: Credentials;
  timeoutMs?: number;
  /** PEM CA certificates this registry's HTTPS certificate is checked against (Docker's certs.d ca.crt). */
  ca?: string;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

const MAX_REDIRECTS = 5;

export class RegistryClient {
  readonly base: URL;
  private readonly auth: RegistryAuth;
  private probed = false;

  constructor(private readonly opts: RegistryOptions) {
    const scheme = opts.insecure || isLoopback(opts.domain) ? 'http' : 'https';
    this.base = new URL(`${scheme}://${registryHost(opts.domain)}/v2/`);
    this.auth = new RegistryAuth(
      opts.domain,
      this.base.protocol === 'https:',
      opts.credentials,
      (url, authorization) => this.follow({ method: 'GET', url }, authorization, url.origin),
      (res) => this.failure(res, 'token'),
    );
  }

  /** GET /v2/: checks the registry answers and the credentials (if any) are accepted (`login`). */
  async ping(): Promise<void> {
    const res = await this.send({ method: 'GET', path: '' }, []);
    discard(res.body);
    if (res.status !== 200) throw await this.failure(res, `registry ${this.opts.domain}`);
  }

  /** A manifest or index by tag or digest, verified against the digest. */
  async getManifest(repo: string, reference: string): Promise<FetchedManifest> {
    const res = await this.send(
      {
        method: 'GET',
        path: `${repo}/manifests/${reference}`,
        headers: { Accept: MANIFEST_ACCEPT.join(', ') },
      },
      [pullScope(repo)],
    );
    if (res.status !== 200) throw await this.failure(res, `manifest for ${repo}:${reference}`, repo);
    const bytes = await readBody(res.body);
    const digest = sha256Digest(bytes);
    const what = `manifest ${repo}@${reference}`;
    if (isDigest(reference) && digest !== reference) throw new DigestMismatchError(what, reference, digest);
    const announced = header(res, 'docker-content-digest');
    if (announced !== undefined && announced.startsWith('sha256:') && announced !== digest) {
      throw new DigestMismatchError(what, announced, digest);
    }
    const mediaType = (header(res, 'content-type') ?? '').split(';')[0].trim();
    return { bytes, mediaType, digest };
  }

  /** The digest a tag points at, from a HEAD (what managers pin services to). */
  async resolveDigest(repo: string, reference: string): Promise<string> {
    const res = await this.send(
      {
        method: 'HEAD',
        path: `${repo}/manifests/${reference}`,
        headers: { Accept: MANIFEST_ACCEPT.join(', ') },
      },
      [pullScope(repo)],
    );
    discard(res.body);
    if (res.status !== 200) throw await this.failure(res, `manifest for ${repo}:${reference}`, repo);
    const announced = header(res, 'docker-content-digest');
    if (announced !== undefined && isDigest(announced)) return announced;
    return (await this.getManifest(repo, reference)).digest; // a registry that does not announce it
  }

  /** A blob's content as a stream (the caller verifies it: ImageStore.putBlob). */
  async getBlob(repo: string, digest: string): Promise<{ body: Readable; size?: number }> {
    const res = await this.send({ method: 'GET', path: `${repo}/blobs/${digest}` }, [pullScope(repo)]);
    if (res.status !== 200) throw await this.failure(res, `blob ${digest}`, repo);
    const length = header(res, 'content-length');
    return { body: res.body, ...(length !== undefined ? { size: Number(length) } : {}) };
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const res = await this.send({ method: 'HEAD', path: `${repo}/blobs/${digest}` }, [pushScope(repo)]);
    discard(res.body);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.failure(res, `blob ${digest}`, repo);
  }

  /**
   * Uploads a blob: first tries to mount it from `mountFrom` (another repository of this registry);
   * otherwise one PUT when `chunkSize` is unset or the blob fits, else PATCHes of `chunkSize` bytes.
   * Returns 'mounted' or 'uploaded'.
   */
  async putBlob(
    repo: string,
    digest: string,
    size: number,
    open: (start: number, end: number) => Readable,
    opts: { mountFrom?: string; chunkSize?: number; onBytes?: (n: number) => void } = {},
  ): Promise<'mounted' | 'uploaded'> {
    const scopes = [pushScope(repo), ...(opts.mountFrom ? [pullScope(opts.mountFrom)] : [])];
    const query = opts.mountFrom
      ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(opts.mountFrom)}`
      : '';
    const start = await this.send({ method: 'POST', path: `${repo}/blobs/uploads/${query}` }, scopes);
    discard(start.body);
    if (start.status === 201) return 'mounted';
    if (start.status !== 202) throw await this.failure(start, `upload of blob ${digest}`, repo);
    let location = this.location(start);
    const chunk = opts.chunkSize && opts.chunkSize < size ? opts.chunkSize : undefined;
    if (chunk === undefined) {
      const done = await this.sendUrl(
        {
          method: 'PUT',
          url: withDigest(location, digest),
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
          body: () => open(0, size),
        },
        scopes,
      );
      discard(done.body);
      if (done.status !== 201) throw await this.failure(done, `upload of blob ${digest}`, repo);
      opts.onBytes?.(size);
      return 'uploaded';
    }
    for (let offset = 0; offset < size; offset += chunk) {
      const end = Math.min(size, offset + chunk);
      const res = await this.sendUrl(
        {
          method: 'PATCH',
          url: location,
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Length': String(end - offset),
            'Content-Range': `${offset}-${end - 1}`,
          },
          body: () => open(offset, end),
        },
        scopes,
      );
      discard(res.body);
      if (res.status !== 202) throw await this.failure(res, `upload of blob ${digest}`, repo);
      location = this.location(res);
      opts.onBytes?.(end - offset);
    }
    const done = await this.sendUrl(
      {
        method: 'PUT',
        url: withDigest(location, digest),
        headers: { 'Content-Length': '0' },
        body: Buffer.alloc(0),
      },
      scopes,
    );
    discard(done.body);
    if (done.status !== 201) throw await this.failure(done, `upload of blob ${digest}`, repo);
    return 'uploaded';
  }

  /** PUTs a manifest; the registry must name it by the digest of the bytes sent. */
  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.send(
      {
        method: 'PUT',
        path: `${repo}/manifests/${reference}`,
        headers: { 'Content-Type': mediaType },
        body: bytes,
      },
      [pushScope(repo)],
    );
    discard(res.body);
    if (res.status !== 201) throw await this.failure(res, `manifest ${repo}:${reference}`, repo);
    const digest = sha256Digest(bytes);
    const announced = header(res, 'docker-content-digest');
    if (announced !== undefined && announced !== digest) {
      throw new DigestMismatchError(
        `manifest ${repo}:${reference} as stored by the registry`,
        digest,
        announced,
      );
    }
    return digest;
  }

  // ---- transport and authentication ----

  private send(
    req: {
      method: HttpRequest['method'];
      path: string;
      headers?: Record<string, string>;
      body?: HttpRequest['body'];
    },
    scopes: string[],
  ): Promise<HttpResponse> {
    return this.sendUrl({ ...req, url: new URL(req.path, this.base) }, scopes);
  }

  /** Sends with whatever authorization is known; on a 401 answers the challenge and retries once. */
  private async sendUrl(req: HttpRequest, scopes: string[]): Promise<HttpResponse> {
    if (!this.probed && req.url.href !== this.base.href) await this.probe();
    let res = await this.follow(req, await this.auth.header(scopes, false));
    if (res.status !== 401) return res;
    const challenge = parseChallenges(header(res, 'www-authenticate') ?? '')[0];
    discard(res.body);
    if (!challenge) throw unauthorized(this.opts.credentials, res.status);
    this.auth.answer(challenge);
    res = await this.follow(req, await this.auth.header(scopes, true));
    if (res.status === 401) {
      discard(res.body);
      // Credentials were sent: for /v2/ itself they are wrong; for a resource they may be right
      // but not grant it (Docker words both cases so).
      if (this.opts.credentials && req.url.href !== this.base.href) {
        throw new RegistryError('denied: requested access to the resource is denied', 401, 'DENIED');
      }
      throw unauthorized(this.opts.credentials, res.status);
    }
    return res;
  }

  /**
   * GET /v2/ once, as Docker does, to learn how the registry authenticates before the first real
   * request (so an upload is not streamed once anonymously only to be refused).
   */
  private async probe(): Promise<void> {
    this.probed = true;
    const res = await this.follow({ method: 'GET', url: this.base }, undefined);
    discard(res.body);
    const challenge =
      res.status === 401 ? parseChallenges(header(res, 'www-authenticate') ?? '')[0] : undefined;
    if (challenge) this.auth.learn(challenge);
  }

  /**
   * One request, following redirects (blob downloads are often sent to storage elsewhere):
   * credentials go only to the registry's own origin, and never from HTTPS down to HTTP.
   */
  private async follow(
    req: HttpRequest,
    authorization: string | undefined,
    authOrigin = this.base.origin,
  ): Promise<HttpResponse> {
    let url = req.url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers = { ...req.headers };
      if (authorization && url.origin === authOrigin) headers.Authorization = authorization;
      const res = await httpRequest({
        ...req,
        url,
        headers,
        timeoutMs: req.timeoutMs ?? this.opts.timeoutMs,
        ...(this.opts.ca !== undefined && url.origin === this.base.origin ? { ca: this.opts.ca } : {}),
      });
      const location = header(res, 'location');
      if (![301, 302, 303, 307, 308].includes(res.status) || location === undefined) return res;
      if (req.method !== 'GET' && req.method !== 'HEAD') return res; // uploads answer with Location too
      discard(res.body);
      const next = new URL(location, url);
      if (next.protocol === 'http:' && url.protocol === 'https:') {
        throw new RegistryError(
          `registry ${this.opts.domain} redirected from HTTPS to plain HTTP (${next.href})`,
          res.status,
        );
      }
      url = next;
    }
    throw new RegistryError(`registry ${this.opts.domain}: too many redirects for ${req.url.href}`, 0);
  }

  private location(res: HttpResponse): URL {
    const location = header(res, 'location');
    if (!location)
      throw new RegistryError(
        `registry ${this.opts.domain} started an upload without a Location`,
        res.status,
      );
    return new URL(location, this.base);
  }

  /** A registry error response as one line, Docker's wording where users know it. */
  private async failure(res: HttpResponse, what: string, repo?: string): Promise<RegistryError> {
    let code: string | undefined;
    let message = '';
    try {
      const doc = JSON.parse((await readBody(res.body, 64 << 10)).toString('utf8')) as {
        errors?: Array<{ code?: string; message?: string }>;
      };
      code = doc.errors?.[0]?.code;
      message = doc.errors?.map((e) => e.message ?? e.code).join('; ') ?? '';
    } catch {
      // not a registry error document: the status says enough
    }
    if (
      res.status === 404 &&
      repo !== undefined &&
      (code === 'MANIFEST_UNKNOWN' || code === undefined) &&
      what.startsWith('manifest')
    ) {
      return new RegistryError(`${what} not found: manifest unknown`, 404, code ?? 'MANIFEST_UNKNOWN');
    }
    if ((res.status === 404 || res.status === 403) && code === 'NAME_UNKNOWN' && repo !== undefined) {
      return new RegistryError(
        `pull access denied for ${repo}, repository does not exist or may require 'swarmlite login'`,
        res.status,
        code,
      );
    }
    if (res.status === 403) {
      return new RegistryError('denied: requested access to the resource is denied', 403, code ?? 'DENIED');
    }
    return new RegistryError(
      `${what}: registry ${this.opts.domain} answered ${res.status}${message ? `: ${message}` : ''}`,
      res.status,
      code,
    );
  }
}

function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}

function pushScope(repo: string): string {
  return `repository:${repo}:pull,push`;
}

function withDigest(location: URL, digest: string): URL {
  const url = new URL(location.href);
  url.searchParams.set('digest', digest);
  return url;
}

/** Docker treats registries on the loopback network as insecure (plain HTTP) by default. */
export function isLoopback(domain: string): boolean {
  const host = domain.replace(/:\d+$/, '');
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
}
