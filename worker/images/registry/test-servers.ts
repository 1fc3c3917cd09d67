// Small servers the registry tests start inside their network namespace (run as a program):
//
//   token LISTEN ISSUER SERVICE USER PASSWORD KEY_PEM_FILE CERT_PEM_FILE
//     a Docker-style token server: checks basic auth, then signs an RS256 JWT (the certificate in its
//     x5c header) granting the scopes asked for, as docker/distribution's token auth verifies.
//   corrupt LISTEN UPSTREAM_URL blob|manifest
//     a proxy in front of a real registry that flips one byte of every blob (or manifest) it serves,
//     keeping the registry's headers (Docker-Content-Digest included): a registry serving wrong content.
//
// Each prints `ready` once listening and runs until killed.
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

function listen(server: http.Server, where: string): void {
  const [host, port] = [
    where.slice(0, where.lastIndexOf(':')),
    Number(where.slice(where.lastIndexOf(':') + 1)),
  ];
  server.listen(port, host, () => process.stdout.write('ready\n'));
}

function tokenServer(args: string[]): void {
  const [where, issuer, service, user, password, keyFile, certFile] = args;
  const key = createPrivateKey(readFileSync(keyFile));
  const certDer = new X509Certificate(readFileSync(certFile)).raw.toString('base64');
  const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    // Anonymous callers get a token without access (as Docker Hub does for private repositories);
    // wrong credentials are refused outright.
    const auth = req.headers.authorization;
    if (auth !== undefined && auth !== expected) {
      res
        .writeHead(401, { 'Content-Type': 'application/json' })
        .end('{"details":"incorrect username or password"}');
      return;
    }
    const access =
      auth === expected
        ? url.searchParams.getAll('scope').flatMap((scope) => {
            const [type, ...rest] = scope.split(':');
            const actions = rest.pop() ?? '';
            return [{ type, name: rest.join(':'), actions: actions.split(',') }];
          })
        : [];
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer] };
    const claims = {
      iss: issuer,
      sub: auth === expected ? user : '',
      aud: url.searchParams.get('service') ?? service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signed = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signed), key);
    const token = `${signed}.${b64url(signature)}`;
    res
      .writeHead(200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ token, expires_in: 300 }));
  });
  listen(server, where);
}

function corruptingProxy(args: string[]): void {
  const [where, upstream, what] = args;
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const corrupt =
      req.method === 'GET' && (what === 'blob' ? /\/blobs\/sha256:/ : /\/manifests\//).test(path);
    const out = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path,
        headers: { ...req.headers, host: target.host },
      },
      (up) => {
        if (!corrupt || up.statusCode !== 200) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          if (body.length > 0) body[Math.floor(body.length / 2)] ^= 0x01;
          res.writeHead(200, up.headers);
          res.end(body);
        });
      },
    );
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  listen(server, where);
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'token') tokenServer(rest);
else if (mode === 'corrupt') corruptingProxy(rest);
else {
  process.stderr.write('usage: test-servers.js token|corrupt ...\n');
  process.exit(2);
}
