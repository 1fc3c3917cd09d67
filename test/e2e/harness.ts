// Labs for e2e tests: built by the same code as `swarmlite lab up`, each with a name unique to the
// test, so test files run concurrently without colliding, and torn down when the test ends, pass or fail.
import { spawn } from 'node:child_process';
import { eventually } from '../support.js';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { enterHost, hostEnv } from '../../deploy/lab/hosts.js';
import { labDown, labUp } from '../../deploy/lab/lab.js';
import type { LabHostState, LabState } from '../../deploy/lab/state.js';
import type { LabRegistrySpec } from '../../deploy/lab/registry.js';
import type { Task } from '../../api/objects/index.js';

/** 'e' + 7 random base-36 characters: a valid lab name no other test run will pick. */
export function uniqueLabName(): string {
  const n = randomBytes(5).readUIntBE(0, 5);
  return 'e' + n.toString(36).padStart(7, '0').slice(-7);
}

/**
 * A lab of `nodes` hosts; with `managers` > 0 they form a swarm (node1 ... nodeM managers); with
 * `registries`, image registries in the lab that every daemon is set up to use (deploy/lab/registry.ts).
 */
export async function createTestLab(
  t: TestContext,
  nodes: number,
  managers = 0,
  daemonArgs: string[] = [],
  registries: LabRegistrySpec[] = [],
): Promise<LabState> {
  const name = uniqueLabName();
  const made: { lab?: LabState } = {};
  // Registered first, so even a failure half-way through up() is cleaned.
  t.after(() => {
    keepDaemonLogs(t, made.lab);
    return labDown(name);
  });
  made.lab = await labUp({ name, nodes, managers, daemonArgs, registries });
  return made.lab;
}

/** With SWARMLITE_E2E_LOGS=DIR, every host's daemon log is copied to DIR/<lab>/ before the lab goes. */
function keepDaemonLogs(t: TestContext, lab: LabState | undefined): void {
  const root = process.env.SWARMLITE_E2E_LOGS;
  if (!root || !lab) return;
  const dir = join(root, lab.name);
  mkdirSync(dir, { recursive: true });
  for (const h of lab.hosts)
    if (existsSync(h.logFile)) copyFileSync(h.logFile, join(dir, `${h.hostname}.log`));
  t.diagnostic(`daemon logs of ${t.name} kept in ${dir}`);
}

export const isRoot = process.getuid?.() === 0;

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command inside a lab host (as `swarmlite lab exec` does) and collects its output. */
export function runIn(host: LabHostState, argv: string[], timeoutMs = 120_000): Promise<CommandResult> {
  const full = enterHost(host, argv);
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), { env: hostEnv(host), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr });
    });
  });
}

/** `swarmlite ARGS` on a host; fails the test with its stderr unless it exits 0 (or `expectCode`). */
export async function swl(host: LabHostState, args: string[], expectCode = 0): Promise<CommandResult> {
  const r = await runIn(host, ['swarmlite', ...args]);
  if (r.code !== expectCode) {
    throw new Error(
      `swarmlite ${args.join(' ')} on ${host.hostname}: exit ${r.code}, expected ${expectCode}\n${r.stderr}${r.stdout}`,
    );
  }
  return r;
}

/** Polls `check` every 50 ms until it returns a value or `timeoutMs` passes (see test/support.ts). */
export function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  return eventually(what, check, timeoutMs, 50);
}

/** `service ps SERVICE --format json` on a host. */
export const psJson = async (h: LabHostState, service: string): Promise<Task[]> =>
  JSON.parse((await swl(h, ['service', 'ps', service, '--format', 'json'])).stdout) as Task[];

/** The tasks that run and are meant to. */
export const running = (ts: Task[]) =>
  ts.filter((t) => t.status.state === 'running' && t.desiredState === 'running');

/** A task's address on a network, without prefix length. */
export const ipOn = (t: Task, networkId: string) =>
  t.networks.find((n) => n.networkId === networkId)?.addresses[0]?.split('/')[0];
