// One HTTP exchange with a registry, on node:http/https directly: the client decides about every
// redirect (never from HTTPS down to HTTP, credentials never sent to another host) and streams bodies
// both ways without buffering layers in memory.
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { UserError } from '../../../lib/errors.js';

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  /** A buffer, or a stream factory (a retried request needs a fresh stream). */
  body?: Buffer | (() => Readable);
  timeoutMs?: number;
  /** PEM certificates trusted for HTTPS instead of the system's (a registry's own CA). */
  ca?: string;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Readable;
}

const DEFAULT_TIMEOUT_MS = 60_000;

export function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const transport = req.url.protocol === 'https:' ? https : req.url.protocol === 'http:' ? http : undefined;
  if (!transport) return Promise.reject(new UserError(`unsupported URL scheme in ${req.url.href}`));
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'User-Agent': 'swarmlite', ...req.headers };
    if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length);
    const options = { method: req.method, headers, ...(req.ca !== undefined ? { ca: req.ca } : {}) };
    const outgoing = transport.request(req.url, options, (res) => {
      res.setTimeout(req.timeoutMs ?? DEFAULT_TIMEOUT_MS, () =>
        res.destroy(
          new UserError(
            `${req.method} ${req.url.href}: no data for ${req.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`,
          ),
        ),
      );
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    outgoing.setTimeout(req.timeoutMs ?? DEFAULT_TIMEOUT_MS, () =>
      outgoing.destroy(new UserError(`${req.method} ${req.url.href}: timed out`)),
    );
    outgoing.on('error', (err) => reject(new UserError(`${req.method} ${req.url.href}: ${err.message}`)));
    if (req.body === undefined) outgoing.end();
    else if (Buffer.isBuffer(req.body)) outgoing.end(req.body);
    else {
      const body = req.body();
      body.on('error', (err) => outgoing.destroy(err));
      body.pipe(outgoing);
    }
  });
}

/** Reads a whole (small) body; refuses more than `limit` bytes (manifests, tokens, errors). */
export async function readBody(body: Readable, limit = 4 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new UserError(`response larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Drops a body nobody reads, so the socket is freed. */
export function discard(body: Readable): void {
  body.resume();
  body.on('error', () => undefined);
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
