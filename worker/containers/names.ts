// Container ids and names as Docker makes them: 64 hex digits (12 in short form), a name of the user's
// or a generated `adjective_scientist`, and the lookup order of a reference (full id, then name, then
// a unique id prefix). Pure: randomness comes in as a function.
import { randomBytes } from 'node:crypto';

/** Docker's rule for container names. */
export const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ID = /^[0-9a-f]{64}$/;

export const newContainerId = (): string => randomBytes(32).toString('hex');
export const shortId = (id: string): string => id.slice(0, 12);
export const isContainerId = (s: string): boolean => ID.test(s);

export function checkContainerName(name: string): void {
  if (!CONTAINER_NAME.test(name) || name.length > 128)
    throw new Error(`invalid container name "${name}", only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  // A name that reads as an id would shadow a container's id prefix in lookups.
  if (/^[0-9a-f]{64}$/.test(name)) throw new Error(`invalid container name "${name}": it looks like an id`);
}

// Our own short lists (not Docker's): adjectives of temper, and engineers of distributed systems.
const ADJECTIVES = [
  'brave',
  'calm',
  'clever',
  'eager',
  'gentle',
  'happy',
  'jolly',
  'keen',
  'lucid',
  'merry',
  'nimble',
  'patient',
  'quiet',
  'sharp',
  'steady',
  'sunny',
  'swift',
  'tender',
  'upbeat',
  'vivid',
  'wise',
  'zealous',
  'bold',
  'cosmic',
  'dreamy',
  'frosty',
  'hopeful',
  'mystic',
  'proud',
  'serene',
];
const SURNAMES = [
  'lamport',
  'liskov',
  'lynch',
  'ongaro',
  'ousterhout',
  'dijkstra',
  'hopper',
  'lovelace',
  'turing',
  'thompson',
  'ritchie',
  'pike',
  'kernighan',
  'torvalds',
  'stonebraker',
  'gray',
  'chandy',
  'misra',
  'birman',
  'schneider',
  'fischer',
  'paterson',
  'dean',
  'ghemawat',
  'vogels',
  'brewer',
  'gilbert',
  'fekete',
  'herlihy',
  'wing',
];

/**
 * `adjective_surname`, taken from `pick(n)` (an index below n); a taken one is retried a few times,
 * then numbered as Docker does (`calm_lamport3`).
 */
export function generateName(taken: (name: string) => boolean, pick: (n: number) => number): string {
  for (let attempt = 0; ; attempt++) {
    let name = `${ADJECTIVES[pick(ADJECTIVES.length)]}_${SURNAMES[pick(SURNAMES.length)]}`;
    if (attempt >= 3) name += String(pick(10));
    if (!taken(name)) return name;
  }
}

export interface Named {
  id: string;
  name: string;
}

/**
 * The container a reference names, in Docker's order: the full id, a name (with or without the leading
 * `/` Docker shows), a unique id prefix. Throws `No such container: x`, or the ambiguity.
 */
export function findByRef<T extends Named>(all: readonly T[], ref: string): T {
  const byId = all.find((c) => c.id === ref);
  if (byId) return byId;
  const name = ref.startsWith('/') ? ref.slice(1) : ref;
  const byName = all.find((c) => c.name === name);
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(ref)) {
    const matches = all.filter((c) => c.id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new Error(`multiple containers found with provided prefix: ${ref}`);
  }
  throw new Error(`No such container: ${ref}`);
}
