// Where a lab keeps its files, and its state file. The state is written before anything is created
// and updated as hosts start, so a crash half-way through `lab up` leaves enough for `lab down`.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../lib/errors.js';
import type { ProcessRef } from '../../lib/process.js';
import { SUBNET_COUNT, type LabHostNames } from './names.js';
import type { CachedImage } from '../vmlab/image.js';
import type { VmLabPlan } from '../vmlab/plan.js';
import type { LabRegistryState } from './registry.js';

/** All labs live below this folder (a tmpfs: a reboot forgets them, as it forgets their namespaces). */
export function labRoot(): string {
  return process.env.SWARMLITE_LAB_ROOT ?? '/run/swarmlite-lab';
}

export interface LabHostState extends LabHostNames {
  dir: string;
  socket: string;
  dataRoot: string;
  execRoot: string;
  logFile: string;
  /** Bind-mounted UTS namespace that carries the host's hostname. */
  utsFile: string;
  daemon?: ProcessRef;
  /** Extra daemon flags this lab starts the host with (e.g. `--executor simulated`). */
  daemonArgs?: string[];
}

export interface LabState {
  name: string;
  subnetIndex: number;
  nodes: number;
  managers: number;
  createdAt: string;
  /** Namespace hosts; empty for a lab of VMs. */
  hosts: LabHostState[];
  /** The lab's image registries (`lab up --registry`), in namespace NAME-reg. */
  registries?: LabRegistryState[];
  /** Set for a lab of QEMU VMs (`lab up --vms`, deploy/vmlab). */
  vms?: VmLabState;
}

export interface VmLabState {
  plan: VmLabPlan;
  /** Known once the base image is there (a crash before leaves no VM to stop). */
  image?: CachedImage;
  /** Whether the first boot installs swarmlite (false: `--no-install`, bare VMs). */
  install: boolean;
}

export const labDir = (name: string) => join(labRoot(), 'labs', name);
const stateFile = (name: string) => join(labDir(name), 'state.json');
const subnetsDir = () => join(labRoot(), 'subnets');

export function writeLabState(state: LabState): void {
  const file = stateFile(state.name);
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
}

export function readLabState(name: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(name), 'utf8')) as LabState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(
      `lab '${name}' has an unreadable state file ${stateFile(name)}: ${(err as Error).message}`,
    );
  }
}

export function requireLabState(name: string): LabState {
  const state = readLabState(name);
  if (!state) throw new UserError(`no lab named '${name}' (see 'swarmlite lab ls')`);
  return state;
}

/** Names of every lab with a folder, complete or not. */
export function listLabNames(): string[] {
  try {
    return readdirSync(join(labRoot(), 'labs')).sort();
  } catch {
    return [];
  }
}

/** Creates the lab's folder; its atomic mkdir is what makes a lab name taken. */
export function claimLabDir(name: string): void {
  mkdirSync(join(labRoot(), 'labs'), { recursive: true, mode: 0o755 });
  try {
    mkdirSync(labDir(name), { mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UserError(
        `lab '${name}' already exists: use it, or remove it with 'swarmlite lab down --name ${name}'`,
      );
    }
    throw err;
  }
}

/** Reserves the lowest free /24 index with an exclusively created file, safe against concurrent `lab up`s. */
export function reserveSubnet(name: string): number {
  mkdirSync(subnetsDir(), { recursive: true });
  for (let k = 0; k < SUBNET_COUNT; k++) {
    try {
      writeFileSync(join(subnetsDir(), String(k)), name + '\n', { flag: 'wx' });
      return k;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new UserError(`all ${SUBNET_COUNT} lab subnets of 198.18.0.0/15 are in use: remove a lab first`);
}

/** The subnet indices reserved by `name` (normally one; none if up crashed before reserving). */
export function subnetsOf(name: string): number[] {
  const found: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(subnetsDir());
  } catch {
    return found;
  }
  for (const entry of entries) {
    try {
      if (readFileSync(join(subnetsDir(), entry), 'utf8').trim() === name) found.push(Number(entry));
    } catch {
      // released concurrently
    }
  }
  return found.sort((a, b) => a - b);
}

export function releaseSubnets(name: string): void {
  for (const k of subnetsOf(name)) rmSync(join(subnetsDir(), String(k)), { force: true });
}
