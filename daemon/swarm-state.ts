// This node's membership of a swarm, kept in the data root so a restarted daemon rejoins as it was:
// the cluster and node ids, its role, the managers it knows, and its certificate files (named as
// Docker names them). The private key is written 0600 and never leaves the node.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../lib/errors.js';
import { raftDataDir } from '../manager/index.js';

export type SwarmRole = 'manager' | 'worker';

export interface SwarmState {
  clusterId: string;
  nodeId: string;
  role: SwarmRole;
  /** host:port the manager port listens on (managers). */
  listenAddr: string;
  /** host:port other nodes reach this manager at; for workers the IP (port unused). */
  advertiseAddr: string;
  /** This manager's Raft member id (managers only; 0 otherwise). */
  raftId: number;
  /** Manager addresses (host:port) last heard of, tried in order when (re)connecting. */
  managers: string[];
}

export interface NodeCertificates {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

const swarmDir = (dataRoot: string) => join(dataRoot, 'swarm');
const certDir = (dataRoot: string) => join(dataRoot, 'certificates');
const stateFile = (dataRoot: string) => join(swarmDir(dataRoot), 'state.json');
const CERT_FILES = {
  caCertPem: 'swarm-root-ca.crt',
  certPem: 'swarm-node.crt',
  keyPem: 'swarm-node.key',
} as const;

/** Writes a file so that a crash leaves either the old or the new content, never a torn one. */
function writeDurably(path: string, content: string, mode = 0o600): void {
  const temp = `${path}.tmp`;
  writeFileSync(temp, content, { mode });
  const fd = openSync(temp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

export function loadSwarmState(dataRoot: string): SwarmState | undefined {
  let text: string;
  try {
    text = readFileSync(stateFile(dataRoot), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const s = JSON.parse(text) as SwarmState;
    if (!s.clusterId || !s.nodeId || (s.role !== 'manager' && s.role !== 'worker'))
      throw new Error('missing fields');
    return s;
  } catch (err) {
    throw new UserError(
      `swarm state ${stateFile(dataRoot)} is unreadable (${(err as Error).message}); leave with --force to reset`,
    );
  }
}

export function saveSwarmState(dataRoot: string, state: SwarmState): void {
  mkdirSync(swarmDir(dataRoot), { recursive: true, mode: 0o700 });
  writeDurably(stateFile(dataRoot), JSON.stringify(state, null, 2) + '\n');
}

/** A key and certificate that belong together (a renewal makes a new key each time). */
function isPair(c: NodeCertificates): boolean {
  try {
    return new X509Certificate(c.certPem).checkPrivateKey(createPrivateKey(c.keyPem));
  } catch {
    return false;
  }
}

function readCertDir(dir: string): NodeCertificates | undefined {
  try {
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    const c = {
      caCertPem: read(CERT_FILES.caCertPem),
      certPem: read(CERT_FILES.certPem),
      keyPem: read(CERT_FILES.keyPem),
    };
    return isPair(c) ? c : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The node's certificates. A save swaps whole folders (see saveCertificates), so after a crash the
 * current folder, or else the fully written new one, or else the previous one holds a matching set.
 */
export function loadCertificates(dataRoot: string): NodeCertificates | undefined {
  const dir = certDir(dataRoot);
  return readCertDir(dir) ?? readCertDir(`${dir}.new`) ?? readCertDir(`${dir}.old`);
}

/** Writes the three files into a new folder, then swaps it in: a crash never leaves a key without its certificate. */
export function saveCertificates(dataRoot: string, certs: NodeCertificates): void {
  const dir = certDir(dataRoot);
  rmSync(`${dir}.new`, { recursive: true, force: true });
  mkdirSync(`${dir}.new`, { recursive: true, mode: 0o700 });
  writeDurably(join(`${dir}.new`, CERT_FILES.keyPem), certs.keyPem, 0o600);
  writeDurably(join(`${dir}.new`, CERT_FILES.caCertPem), certs.caCertPem, 0o644);
  writeDurably(join(`${dir}.new`, CERT_FILES.certPem), certs.certPem, 0o644);
  rmSync(`${dir}.old`, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, `${dir}.old`);
  renameSync(`${dir}.new`, dir);
  fsyncDir(dataRoot);
  rmSync(`${dir}.old`, { recursive: true, force: true });
}

function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Forgets the swarm: state, certificates and the Raft log (leave). */
export function clearSwarmState(dataRoot: string): void {
  rmSync(swarmDir(dataRoot), { recursive: true, force: true });
  for (const suffix of ['', '.new', '.old'])
    rmSync(certDir(dataRoot) + suffix, { recursive: true, force: true });
  rmSync(raftDataDir(dataRoot), { recursive: true, force: true });
}
