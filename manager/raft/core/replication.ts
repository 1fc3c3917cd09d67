// Leader → follower traffic: AppendEntries (or a snapshot when the follower needs compacted entries),
// and heartbeats. Flow control is the Progress's: a paused follower gets nothing until it answers.

import { CompactedError, MessageType, type RaftId, SnapshotTemporarilyUnavailableError } from '../types.js';
import type { Raft } from './raft.js';
import { newMessage } from './util.js';

/**
 * Sends `to` the entries it lacks (or a snapshot). With sendIfEmpty=false nothing is sent when there
 * is nothing new (used to fill the pipeline). Returns whether a message was sent.
 */
export function maybeSendAppend(r: Raft, to: RaftId, sendIfEmpty: boolean): boolean {
  const pr = r.tracker.progress.get(to);
  if (!pr || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  let prevTerm: number;
  let entries;
  try {
    prevTerm = r.log.term(prevIndex);
    entries = r.log.entries(pr.next, r.maxMsgSize);
  } catch (e) {
    // Only compaction sends a snapshot; anything else (next past the end) is a bug.
    if (!(e instanceof CompactedError)) throw e;
    return sendSnapshot(r, to);
  }
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send(
    newMessage(MessageType.App, {
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: r.log.committed,
    }),
  );
  pr.sentEntries(entries.length, entries.length > 0 ? entries[entries.length - 1].index : prevIndex);
  return true;
}

function sendSnapshot(r: Raft, to: RaftId): boolean {
  const pr = r.tracker.progress.get(to)!;
  // A follower we have not heard from lately is probably down: do not ship it a snapshot now.
  if (!pr.recentActive) return false;
  let snapshot;
  try {
    snapshot = r.log.snapshot();
  } catch (e) {
    if (e instanceof SnapshotTemporarilyUnavailableError) return false;
    throw e;
  }
  if (snapshot.metadata.index === 0)
    throw new Error('raft: need a non-empty snapshot to catch up a follower');
  pr.becomeSnapshot(snapshot.metadata.index);
  r.send(newMessage(MessageType.Snap, { to, snapshot }));
  return true;
}

export function sendAppend(r: Raft, to: RaftId): void {
  maybeSendAppend(r, to, true);
}

/** Sends every follower what it lacks (also propagates a new commit index). */
export function bcastAppend(r: Raft): void {
  for (const id of sortedPeers(r)) sendAppend(r, id);
}

/**
 * Heartbeats carry commit = min(match, committed): a follower must not learn of a commit beyond what
 * it is known to hold, since its log past `match` may still differ from the leader's.
 */
export function bcastHeartbeat(r: Raft, context?: Uint8Array): void {
  const ctx = context ?? r.readOnly.lastPendingContext() ?? new Uint8Array(0);
  for (const id of sortedPeers(r)) {
    const pr = r.tracker.progress.get(id)!;
    r.send(
      newMessage(MessageType.Heartbeat, {
        to: id,
        commit: Math.min(pr.match, r.log.committed),
        context: ctx,
      }),
    );
  }
}

export function sendTimeoutNow(r: Raft, to: RaftId): void {
  r.send(newMessage(MessageType.TimeoutNow, { to }));
}

/** Members other than self, in id order so that output is deterministic. */
function sortedPeers(r: Raft): RaftId[] {
  return [...r.tracker.progress.keys()].filter((id) => id !== r.id).sort((a, b) => a - b);
}
