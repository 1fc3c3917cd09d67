// Runs a cluster of kv-server processes on loopback for the kill-leader test and the benchmark.
// Every process is tracked by pid and stopped by pid; data dirs live under one temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../../test/support.js';

export { freePorts };

const SERVER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'kv-server.js');

export interface KvMember {
  id: number;
  addr: string;
  /** The HTTP write endpoint (kv-http.ts), when the cluster was started with `http`. */
  httpAddr?: string;
  dataDir: string;
  proc: ChildProcess | undefined;
  /** stderr of every run of this member, for diagnosing a failure. */
  log: string[];
}

/** Ports that were free a moment ago (bound to port 0, then released). */

export class KvCluster {
  readonly members: KvMember[];

  private constructor(
    readonly root: string,
    members: KvMember[],
    private readonly extraArgs: string[],
  ) {
    this.members = members;
  }

  static async start(
    size: number,
    opts: { extraArgs?: string[]; host?: string; http?: boolean } = {},
  ): Promise<KvCluster> {
    const root = await mkdtemp(join(tmpdir(), 'swarmlite-kv-'));
    const host = opts.host ?? '127.0.0.1';
    const ports = await freePorts(size, host);
    const httpPorts = opts.http ? await freePorts(size, host) : [];
    const members = ports.map((port, i) => ({
      id: i + 1,
      addr: `${host}:${port}`,
      ...(opts.http && { httpAddr: `${host}:${httpPorts[i]}` }),
      dataDir: join(root, `member-${i + 1}`),
      proc: undefined,
      log: [],
    }));
    const cluster = new KvCluster(root, members, opts.extraArgs ?? []);
    try {
      await Promise.all(members.map((m) => cluster.launch(m)));
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  get addrs(): string[] {
    return this.members.map((m) => m.addr);
  }

  member(id: number): KvMember {
    return this.members.find((m) => m.id === id)!;
  }

  /** Starts (or restarts, on the same data dir) a member; resolves once it serves. */
  async launch(m: KvMember): Promise<void> {
    const peers = this.members.map((p) => `${p.id}=${p.addr}`).join(',');
    const args = ['--id', String(m.id), '--listen', m.addr, '--peers', peers, '--data', m.dataDir];
    args.push(...this.extraArgs);
    if (m.httpAddr) args.push('--http', m.httpAddr);
    m.proc = await startServer(SERVER_SCRIPT, args, `member ${m.id}`, m.log);
  }

  /** SIGKILLs a member by pid and waits for it to be gone. */
  async kill(id: number): Promise<void> {
    const m = this.member(id);
    const proc = m.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    process.kill(proc.pid!, 'SIGKILL');
    await gone;
    m.proc = undefined;
  }

  /** Stops every member by pid (SIGTERM, then SIGKILL after a grace period) and removes the data. */
  async destroy(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        await stopServer(m.proc);
        m.proc = undefined;
      }),
    );
    await rm(this.root, { recursive: true, force: true });
  }
}

/**
 * Runs `node script ...args` (a kv-server or the floor server) and resolves with its process once it
 * printed its {"ready":true} line; its stderr goes to `log`, which a failure's message carries.
 */
export function startServer(
  script: string,
  args: string[],
  name: string,
  log: string[],
): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--enable-source-maps', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => log.push(s));
  return new Promise((resolve, reject) => {
    // Generous: on a loaded 2-core machine loading gRPC alone has taken over 15 s.
    const timer = setTimeout(() => {
      if (proc.pid && proc.exitCode === null) process.kill(proc.pid, 'SIGKILL');
      reject(new Error(`${name} did not start: ${log.join('')}`));
    }, 60_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${log.join('')}`));
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"ready":true')) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
  });
}

/** Stops a process this file started, by its pid: SIGTERM, SIGKILL after 3 s; resolves once gone. */
export async function stopServer(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  process.kill(proc.pid!, 'SIGTERM');
  const timer = setTimeout(() => proc.pid && process.kill(proc.pid, 'SIGKILL'), 3_000);
  await gone;
  clearTimeout(timer);
}
