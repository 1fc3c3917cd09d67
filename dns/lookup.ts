// What the embedded resolver answers for one question from one task: a pure function of the indexes of
// the networks the task is attached to and of the names this node owns on any network.
import type { NetworkIndex, OwnedNames } from './name-index.js';

export const QTYPE = { A: 1, PTR: 12, AAAA: 28, ANY: 255 } as const;
const QCLASS_IN = 1;
const QCLASS_ANY = 255;

export type LookupResult =
  | { kind: 'answer'; type: 'A' | 'PTR'; data: readonly string[]; ttl: number; shuffle: boolean }
  /** The name is the task's to know but has no record of this type (AAAA, MX, ...): NOERROR, empty. */
  | { kind: 'nodata' }
  /**
   * An owned name (a service, task or alias on some network this node knows) that is not on any of
   * the task's networks. Answering NXDOMAIN instead of forwarding keeps a service on a network the
   * task does not share from resolving at all, even through an upstream that happens to know it, and
   * keeps internal names from leaking to the upstream resolvers.
   */
  | { kind: 'nxdomain' }
  /** Not ours: the upstream resolvers answer it. */
  | { kind: 'forward' };

/** Lower case without the trailing dot: the form index keys are in. */
function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * `view` is the task's networks' indexes in the task's network order: when several have the name, the
 * first one answers (as Docker's resolver does, walking the container's endpoints in order), so an
 * answer never mixes addresses of different networks. Only class IN (or ANY) is ours.
 */
export function lookup(
  view: readonly NetworkIndex[],
  owned: OwnedNames,
  qname: string,
  qtype: number,
  qclass: number,
): LookupResult {
  if (qclass !== QCLASS_IN && qclass !== QCLASS_ANY) return { kind: 'forward' };
  const name = normalizeName(qname);
  if (name === '') return { kind: 'forward' };
  if (name.endsWith('.in-addr.arpa')) {
    for (const idx of view) {
      const names = idx.ptr.get(name);
      if (!names) continue;
      if (qtype !== QTYPE.PTR && qtype !== QTYPE.ANY) return { kind: 'nodata' };
      return { kind: 'answer', type: 'PTR', data: names, ttl: 0, shuffle: false };
    }
  } else {
    for (const idx of view) {
      const entry = idx.names.get(name);
      if (!entry) continue;
      if (qtype !== QTYPE.A && qtype !== QTYPE.ANY) return { kind: 'nodata' };
      return { kind: 'answer', type: 'A', data: entry.ips, ttl: entry.ttl, shuffle: entry.shuffle };
    }
  }
  return owned.has(name) ? { kind: 'nxdomain' } : { kind: 'forward' };
}
