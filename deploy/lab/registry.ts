// A lab's image registries: Debian's docker-registry, run from its binary with a config of ours (never
// its system service), listening only on the lab's registry namespace (NAME-reg, .250 of the lab's /24).
// Each is plain HTTP, which every daemon of the lab is told is insecure (`--insecure-registry`), or
// HTTPS with a certificate of the lab's own CA, which every daemon trusts for that registry
// (<data-root>/certs.d/<host:port>/ca.crt); either may ask for htpasswd basic auth. They start before the
// daemons, whose flags and CA files depend on them, and each is recorded by pid and start time in a pid
// file as it starts, so `lab down` stops exactly those processes, also after a crashed `up`.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { findTool, run } from '../../lib/exec.js';
import { addNetns, plug } from '../../lib/netns-fixture.js';
import { isRunning, processRef, signalProcess, waitForExit, type ProcessRef } from '../../lib/process.js';
import type { labNames } from './names.js';
import { registryConfigYaml } from '../../lib/registry-config.js';
import { makeRegistryTls } from './registry-tls.js';
import type { LabHostState } from './state.js';

type Names = ReturnType<typeof labNames>;

export interface LabRegistrySpec {
  /** Names its files in the lab's folder: lowercase letters, digits and '-'. */
  name: string;
  port: number;
  /** Plain HTTP, named insecure to every daemon; otherwise HTTPS with the lab's CA. */
  insecure?: boolean;
  /** htpasswd basic auth for this one user (the password is kept only as its bcrypt hash). */
  basicAuth?: { user: string; password: string };
}

export interface LabRegistryState {
  name: string;
  /** host:port, as image references and `--insecure-registry` name it. */
  address: string;
  insecure: boolean;
  user?: string;
  /** The lab CA's certificate (HTTPS registries). */
  caFile?: string;
  logFile: string;
  process: ProcessRef;
}

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;

/** The default registry of `lab up --registry`: plain HTTP on port 5000, no auth. */
export const DEFAULT_LAB_REGISTRY: LabRegistrySpec = { name: 'registry', port: 5000, insecure: true };

export function validateRegistrySpecs(specs: LabRegistrySpec[]): void {
  const names = new Set<string>();
  const ports = new Set<number>();
  for (const s of specs) {
    if (!NAME_PATTERN.test(s.name))
      throw new UserError(`invalid lab registry name '${s.name}': use lowercase letters, digits and '-'`);
    if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535)
      throw new UserError(`invalid port ${s.port} for lab registry '${s.name}'`);
    if (names.has(s.name)) throw new UserError(`two lab registries named '${s.name}'`);
    if (ports.has(s.port)) throw new UserError(`two lab registries on port ${s.port}`);
    if (s.basicAuth && (!/^[^:\s]+$/.test(s.basicAuth.user) || s.basicAuth.password === ''))
      throw new UserError(`lab registry '${s.name}': basic auth needs a user without ':' and a password`);
    names.add(s.name);
    ports.add(s.port);
  }
}

/** The daemon flags the registries need: `--insecure-registry HOST:PORT` for each plain-HTTP one. */
export function registryDaemonArgs(registries: LabRegistryState[]): string[] {
  return registries.filter((r) => r.insecure).flatMap((r) => ['--insecure-registry', r.address]);
}

const registriesDir = (labDir: string) => join(labDir, 'registries');
const pidFile = (labDir: string, name: string) => join(registriesDir(labDir), `${name}.pid`);

/** The registry namespace, wired to the lab's switch like a host. */
export async function createRegistryNetwork(names: Names): Promise<void> {
  await addNetns(names.registry.netns);
  await plug({
    switchNetns: names.switchNetns,
    bridge: names.bridge,
    port: names.registry.switchPort,
    netns: names.registry.netns,
    ifName: 'eth0',
    address: `${names.registry.address}/24`,
  });
}

/** Starts every registry in the registry namespace; resolves once each accepts connections. */
export async function startRegistries(
  labName: string,
  labDir: string,
  names: Names,
  specs: LabRegistrySpec[],
): Promise<LabRegistryState[]> {
  findTool('docker-registry');
  if (specs.some((s) => s.basicAuth)) findTool('htpasswd');
  const dir = registriesDir(labDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ip = names.registry.address;
  const tls = specs.some((s) => !s.insecure) ? await makeRegistryTls(labName, ip) : undefined;
  const caFile = join(dir, 'ca.crt');
  if (tls) {
    writeFileSync(caFile, tls.caPem);
    writeFileSync(join(dir, 'tls.crt'), tls.certPem);
    writeFileSync(join(dir, 'tls.key'), tls.keyPem, { mode: 0o600 });
  }
  const started: LabRegistryState[] = [];
  for (const spec of specs) {
    const root = join(dir, spec.name);
    mkdirSync(root, { recursive: true });
    let htpasswd: { realm: string; path: string } | undefined;
    if (spec.basicAuth) {
      const entry = await run('htpasswd', ['-Bin', spec.basicAuth.user], { input: spec.basicAuth.password });
      htpasswd = { realm: `${labName}-${spec.name}`, path: join(dir, `${spec.name}.htpasswd`) };
      writeFileSync(htpasswd.path, entry, { mode: 0o600 });
    }
    const yaml = registryConfigYaml({
      rootDirectory: root,
      addr: `${ip}:${spec.port}`,
      ...(spec.insecure ? {} : { tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') } }),
      ...(htpasswd ? { htpasswd } : {}),
    });
    const config = join(dir, `${spec.name}.yml`);
    writeFileSync(config, yaml, { mode: 0o600 });
    const logFile = join(dir, `${spec.name}.log`);
    const state: LabRegistryState = {
      name: spec.name,
      address: `${ip}:${spec.port}`,
      insecure: !!spec.insecure,
      ...(spec.basicAuth ? { user: spec.basicAuth.user } : {}),
      ...(spec.insecure ? {} : { caFile }),
      logFile,
      process: spawnRegistry(names.registry.netns, config, logFile, pidFile(labDir, spec.name)),
    };
    started.push(state);
    await waitForListener(state, ip, spec.port);
  }
  return started;
}

/** docker-registry inside the namespace; nsenter execs it in place, so the pid is the registry's own. */
function spawnRegistry(netns: string, config: string, logFile: string, pidPath: string): ProcessRef {
  const log = openSync(logFile, 'a');
  const child = spawn(
    findTool('nsenter'),
    [`--net=/run/netns/${netns}`, '--', findTool('docker-registry'), 'serve', config],
    { detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  child.unref();
  const ref = child.pid === undefined ? undefined : processRef(child.pid);
  if (!ref) throw new UserError(`the lab registry did not start: ${logTail(logFile)}`);
  writeFileSync(pidPath, `${ref.pid} ${ref.startTime}\n`);
  return ref;
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-10).join('\n');
  } catch {
    return '(no log)';
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port, timeout: 1_000 });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('timeout', () => done(false));
    sock.once('error', () => done(false));
  });
}

/** From the machine's namespace, attached to the lab's switch: the way the hosts will reach it. */
async function waitForListener(r: LabRegistryState, ip: string, port: number, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(ip, port))) {
    if (!isRunning(r.process))
      throw new UserError(`lab registry ${r.name} exited during start-up:\n${logTail(r.logFile)}`);
    if (Date.now() > deadline)
      throw new UserError(`lab registry ${r.name} did not listen on ${r.address} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every daemon trusts the lab's CA for each HTTPS registry, and for nothing else. */
export function trustRegistries(hosts: LabHostState[], registries: LabRegistryState[]): void {
  for (const r of registries) {
    if (!r.caFile) continue;
    const ca = readFileSync(r.caFile);
    for (const host of hosts) {
      const dir = join(host.dataRoot, 'certs.d', r.address);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'ca.crt'), ca);
    }
  }
}

/** Stops every registry a pid file names (only that very process); returns whether any was running. */
export async function stopRegistries(labDir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = readdirSync(registriesDir(labDir)).filter((f) => f.endsWith('.pid'));
  } catch {
    return false;
  }
  let stopped = false;
  for (const entry of entries) {
    const file = join(registriesDir(labDir), entry);
    const [pid, startTime] = readFileSync(file, 'utf8').trim().split(' ');
    const ref = { pid: Number(pid), startTime: startTime ?? '' };
    if (signalProcess(ref, 'SIGTERM')) {
      stopped = true;
      if (!(await waitForExit(ref, 10_000))) {
        signalProcess(ref, 'SIGKILL');
        await waitForExit(ref, 5_000);
      }
    }
    rmSync(file, { force: true });
  }
  return stopped;
}
