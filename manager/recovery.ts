// Recovering a swarm that lost its quorum (`init --force-new-cluster`), as etcd's --force-new-cluster
// does: on a surviving manager, with its Raft member stopped, everything in its log is taken as
// committed, the state is folded into a snapshot at the log's end, and that snapshot names this
// member as the only voter. Restarted, it elects itself and the swarm carries on with its state; the
// other managers' nodes are turned into workers by the role reconciler (their members are gone).
import { openLogStorage } from './raft/storage/index.js';
import { decodeProposal, decodeSnapshotData, encodeSnapshotData } from './raft/node/envelope.js';
import { EntryType, type RaftId } from './raft/types.js';
import { Store, swarmSchema } from './store/index.js';

export interface ForcedCluster {
  /** The index the new single-member configuration starts at. */
  index: number;
  /** Members the old configuration had besides this one. */
  dropped: RaftId[];
}

export async function forceNewCluster(
  dataDir: string,
  self: RaftId,
  selfAddr: string,
): Promise<ForcedCluster> {
  const { storage } = await openLogStorage(dataDir);
  try {
    const { hardState, confState } = storage.initialState();
    const snap = storage.snapshot();
    // Rebuild the store exactly as the Raft node would have: the snapshot, then every entry after it.
    const store = new Store({
      schema: swarmSchema,
      proposer: {
        propose: () => Promise.reject(new Error('force-new-cluster rebuilds the store offline')),
      },
    });
    if (snap.metadata.index > 0) store.restore(decodeSnapshotData(snap.data).app);
    const last = storage.lastIndex();
    const first = snap.metadata.index + 1;
    if (last >= first) {
      for (const e of storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER)) {
        if (e.type !== EntryType.Normal) continue; // membership is being replaced wholesale
        const { id, payload } = decodeProposal(e.data);
        if (id || payload.length > 0) store.apply({ index: e.index, data: payload });
      }
    }
    const index = Math.max(last, snap.metadata.index);
    const term = index === snap.metadata.index ? snap.metadata.term : storage.term(index);
    const members: Record<string, string> = { [String(self)]: selfAddr };
    await storage.save(
      {
        hardState: { term: hardState.term, vote: hardState.vote, commit: index },
        entries: [],
        snapshot: {
          metadata: { index, term, confState: { voters: [self], learners: [] } },
          data: encodeSnapshotData(members, store.snapshot()),
        },
      },
      true,
    );
    const dropped = [...confState.voters, ...confState.learners].filter((id) => id !== self);
    return { index, dropped };
  } finally {
    await storage.close();
  }
}
