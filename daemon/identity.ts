// The node's identity on this host: an id made at the first start and kept in the data root, so
// restarts (and later the swarm's certificates) see the same node.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newId } from '../lib/ids.js';

export interface NodeIdentity {
  nodeId: string;
}

export function loadOrCreateIdentity(dataRoot: string): NodeIdentity {
  const dir = join(dataRoot, 'node');
  const file = join(dir, 'identity.json');
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<NodeIdentity>;
    if (typeof parsed.nodeId === 'string' && /^[a-z0-9]{25}$/.test(parsed.nodeId))
      return { nodeId: parsed.nodeId };
    throw new Error(`${file} holds no valid node id`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const identity = { nodeId: newId() };
  writeFileSync(`${file}.tmp`, JSON.stringify(identity) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return identity;
}
