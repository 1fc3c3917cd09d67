// `--consistency linearizable|local` on the read verbs (node/service/network ls and inspect, service
// ps). linearizable, the default, is answered by the leader after a ReadIndex: it sees every write
// acknowledged before it began. local is answered by the daemon's own manager from its store: no
// round to a quorum, also while the swarm has none, but possibly stale (proto/control.proto).
import { UserError } from '../lib/errors.js';

export type Consistency = 'linearizable' | 'local';

export const CONSISTENCY_FLAG = '--consistency <mode>';
export const CONSISTENCY_HELP =
  "linearizable (default: sees every acknowledged write) or local (this manager's store, possibly stale; answers without a quorum)";

/** The flag's value, checked before anything is asked (bad input: exit 2). */
export function parseConsistency(value: string | undefined): Consistency {
  if (value === undefined || value === 'linearizable') return 'linearizable';
  if (value === 'local') return 'local';
  throw new UserError(`invalid --consistency '${value}': use linearizable or local`, 2);
}
