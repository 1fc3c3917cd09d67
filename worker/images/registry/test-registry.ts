// For the registry tests: a network namespace (prefix swlt-img-) joined to the test's own namespace
// by a veth pair on a random 198.19.1xx.0/30, real registries (Debian's docker-registry, run from its
// binary with a config of ours, never its system service) and the helper servers of test-servers.ts
// started inside it. destroy() stops exactly the processes started here, by pid, and removes the
// namespace and the files; it is idempotent and safe after a failure halfway through setup.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt, webcrypto } from 'node:crypto';
import { registryConfigYaml } from '../../../lib/registry-config.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { findTool, run } from '../../../lib/exec.js';

x509.cryptoProvider.set(webcrypto);

export interface RegistrySpec {
  port: number;
  /** htpasswd basic auth with this user. */
  basicAuth?: { user: string; password: string };
  /** Docker token auth against a token server at this realm. */
  tokenAuth?: { realm: string; service: string; issuer: string; certFile: string };
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
}

export class RegistryLab {
  readonly tag = `swlt-img-${randomBytes(2).toString('hex')}`;
  readonly hostAddress: string;
  readonly address: string;
  dir = '';
  private readonly children: ChildProcess[] = [];
  private created = false;

  constructor() {
    const base = `198.19.${randomInt(160, 200)}.${4 * randomInt(0, 64)}`;
    const [a, b, c, d] = base.split('.').map(Number);
    this.hostAddress = `${a}.${b}.${c}.${d + 1}`;
    this.address = `${a}.${b}.${c}.${d + 2}`;
  }

  async create(): Promise<void> {
    findTool('docker-registry');
    findTool('htpasswd');
    this.dir = await mkdtemp(join(tmpdir(), `${this.tag}-`));
    this.created = true;
    await run('ip', ['netns', 'add', this.tag]);
    await run('ip', ['link', 'add', this.tag, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.tag]);
    await run('ip', ['addr', 'add', `${this.hostAddress}/30`, 'dev', this.tag]);
    await run('ip', ['link', 'set', this.tag, 'up']);
    await run('ip', ['-n', this.tag, 'addr', 'add', `${this.address}/30`, 'dev', 'eth0']);
    await run('ip', ['-n', this.tag, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', this.tag, 'link', 'set', 'lo', 'up']);
  }

  /** A CA and a server certificate for the namespace's address; returns PEM file paths. */
  async makeTls(): Promise<{ caFile: string; caPem: string; certFile: string; keyFile: string }> {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const now = Date.now();
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=swlt-img test CA',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      keys: caKeys,
      signingAlgorithm: alg,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
    });
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: '02',
      subject: `CN=${this.address}`,
      issuer: ca.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: alg,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: this.address }])],
    });
    const caPem = ca.toString('pem');
    const files = {
      caFile: join(this.dir, 'ca.crt'),
      certFile: join(this.dir, 'tls.crt'),
      keyFile: join(this.dir, 'tls.key'),
    };
    await writeFile(files.caFile, caPem);
    await writeFile(files.certFile, cert.toString('pem'));
    await writeFile(
      files.keyFile,
      pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
      { mode: 0o600 },
    );
    return { ...files, caPem };
  }

  /** An RSA key and self-signed certificate for signing tokens (RS256). */
  async makeTokenKeys(): Promise<{ certFile: string; keyFile: string }> {
    const alg = {
      name: 'RSASSA-PKCS1-v1_5',
      hash: 'SHA-256',
      publicExponent: new Uint8Array([1, 0, 1]),
      modulusLength: 2048,
    };
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '03',
      name: 'CN=swlt-img token signer',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      keys,
      signingAlgorithm: alg,
    });
    const files = { certFile: join(this.dir, 'token.crt'), keyFile: join(this.dir, 'token.key') };
    await writeFile(files.certFile, cert.toString('pem'));
    await writeFile(
      files.keyFile,
      pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
      { mode: 0o600 },
    );
    return files;
  }

  /** Starts docker-registry in the namespace and waits until it answers. Returns `address:port`. */
  async startRegistry(name: string, spec: RegistrySpec): Promise<string> {
    const root = join(this.dir, name);
    let htpasswd: { realm: string; path: string } | undefined;
    if (spec.basicAuth) {
      htpasswd = { realm: name, path: join(this.dir, `${name}.htpasswd`) };
      await writeFile(
        htpasswd.path,
        await run('htpasswd', ['-Bbn', spec.basicAuth.user, spec.basicAuth.password]),
      );
    }
    const t = spec.tokenAuth;
    const yaml = registryConfigYaml({
      rootDirectory: root,
      addr: `${this.address}:${spec.port}`,
      ...(spec.tls ? { tls: spec.tls } : {}),
      ...(htpasswd ? { htpasswd } : {}),
      ...(t
        ? { token: { realm: t.realm, service: t.service, issuer: t.issuer, rootCertBundle: t.certFile } }
        : {}),
    });
    const config = join(this.dir, `${name}.yml`);
    await writeFile(config, yaml);
    const child = this.spawnIn(['docker-registry', 'serve', config]);
    const where = `${this.address}:${spec.port}`;
    await this.waitForPort(child, spec.port, `registry ${name}`);
    return where;
  }

  /** Starts one of test-servers.ts's servers in the namespace; resolves once it is listening. */
  async startHelper(args: string[]): Promise<void> {
    const script = fileURLToPath(new URL('./test-servers.js', import.meta.url));
    const child = this.spawnIn(['node', script, ...args]);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`helper ${args[0]} exited (${code}): ${out}`)));
    });
  }

  async destroy(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
    }
    this.children.length = 0;
    if (!this.created) return;
    await run('ip', ['link', 'del', this.tag], { okCodes: [1] });
    await run('ip', ['netns', 'del', this.tag], { okCodes: [1] });
    await rm(this.dir, { recursive: true, force: true });
    this.created = false;
  }

  private spawnIn(argv: string[]): ChildProcess {
    const [tool, ...args] = argv;
    const file = tool === 'node' ? process.execPath : findTool(tool);
    const child = spawn(findTool('ip'), ['netns', 'exec', this.tag, file, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('exit', (code) => {
      if (code && code !== 0 && code !== 143)
        process.stderr.write(`${this.tag}: ${tool} exited ${code}: ${err}\n`);
    });
    this.children.push(child);
    return child;
  }

  /** Waits until something listens on the port inside the namespace (ss), or the process dies. */
  private async waitForPort(child: ChildProcess, port: number, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
      const out = await run('ip', ['netns', 'exec', this.tag, 'ss', '-Hltn', `sport = :${port}`]);
      if (out.trim() !== '') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} did not listen on ${port} within 20 s`);
  }
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}
