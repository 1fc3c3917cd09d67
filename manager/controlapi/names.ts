// Names for services created without `--name`, as Docker makes them: an adjective and a scientist's
// surname (`focused_hopper`), drawn at random, retried past names already taken.
import { randomInt } from 'node:crypto';

const ADJECTIVES = [
  'admiring',
  'bold',
  'brave',
  'busy',
  'calm',
  'clever',
  'eager',
  'elastic',
  'focused',
  'gallant',
  'happy',
  'jolly',
  'keen',
  'lucid',
  'modest',
  'nifty',
  'quirky',
  'serene',
  'sharp',
  'vibrant',
];
const SURNAMES = [
  'babbage',
  'curie',
  'dijkstra',
  'euler',
  'hamilton',
  'hopper',
  'kepler',
  'knuth',
  'lamport',
  'liskov',
  'lovelace',
  'meitner',
  'noether',
  'ritchie',
  'shannon',
  'thompson',
  'turing',
  'wing',
];

const pick = <T>(xs: readonly T[]) => xs[randomInt(xs.length)]!;

/** A free generated name; with a suffix digit once the plain pairs keep colliding. */
export function generateServiceName(taken: (name: string) => boolean): string {
  for (let attempt = 0; attempt < 50; attempt++) {
    const name = `${pick(ADJECTIVES)}_${pick(SURNAMES)}${attempt < 10 ? '' : String(randomInt(10))}`;
    if (!taken(name)) return name;
  }
  throw new Error('could not find a free service name: give one with --name');
}
