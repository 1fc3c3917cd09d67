// `swarmlite whoami`: a tiny HTTP server for demos and load-balancing tests. Every answer says which
// task served it (name, hostname, node, addresses) and what the server saw of the client, so a curl
// loop against a published port shows the routing mesh spreading requests and keeping (or not) the
// client's address. The task runtime sets SWARMLITE_TASK_NAME and SWARMLITE_NODE_HOSTNAME.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';

export interface WhoamiFacts {
  name: string;
  hostname: string;
  node: string;
  /** Non-loopback IPv4 addresses of the task. */
  ips: string[];
  remoteAddr: string;
  /** e.g. `GET /?x=1 HTTP/1.1` */
  requestLine: string;
  headers: [string, string][];
}

/** The answer body and its content type; JSON when the query asks for `format=json`. */
export function renderWhoami(facts: WhoamiFacts, query: URLSearchParams): { type: string; body: string } {
  if (query.get('format') === 'json') {
    const { name, hostname: host, node, ips, remoteAddr, requestLine, headers } = facts;
    const body = { name, hostname: host, node, ips, remoteAddr, request: requestLine, headers };
    return { type: 'application/json', body: JSON.stringify(body) + '\n' };
  }
  const lines = [
    `Name: ${facts.name}`,
    `Hostname: ${facts.hostname}`,
    `Node: ${facts.node}`,
    ...facts.ips.map((ip) => `IP: ${ip}`),
    `RemoteAddr: ${facts.remoteAddr}`,
    facts.requestLine,
    ...facts.headers.map(([k, v]) => `${k}: ${v}`),
  ];
  return { type: 'text/plain; charset=utf-8', body: lines.join('\n') + '\n' };
}

/** `ip:port`, with brackets around IPv6 addresses as URLs write them. */
export function formatAddress(ip: string | undefined, port: number | undefined): string {
  if (!ip) return '';
  const shown = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  return shown.includes(':') ? `[${shown}]:${port ?? ''}` : `${shown}:${port ?? ''}`;
}

function nonLoopbackIPv4(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((addrs) => addrs ?? [])
    .filter((a) => a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
}

function factsOf(req: IncomingMessage, env: NodeJS.ProcessEnv): WhoamiFacts {
  const headers: [string, string][] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
    headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  return {
    name: env.SWARMLITE_TASK_NAME ?? '',
    hostname: hostname(),
    node: env.SWARMLITE_NODE_HOSTNAME ?? '',
    // Read per request: the overlay driver may plug interfaces in after the server started.
    ips: nonLoopbackIPv4(),
    remoteAddr: formatAddress(req.socket.remoteAddress, req.socket.remotePort),
    requestLine: `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`,
    headers,
  };
}

/** Starts the server; resolves once it listens (port 0 picks a free one: see `server.address()`). */
export async function startWhoami(port: number, host?: string, env = process.env): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://whoami');
    const { type, body } = renderWhoami(factsOf(req, env), url.searchParams);
    res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
