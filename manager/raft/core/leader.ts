// The leader's message handling: proposals, replication responses, heartbeats, ReadIndex, snapshots'
// outcomes, CheckQuorum and leadership transfer.

import { EntryType, type Message, MessageType, NONE, ProgressState, ReadState } from '../types.js';
import type { Raft } from './raft.js';
import { bcastAppend, bcastHeartbeat, maybeSendAppend, sendAppend, sendTimeoutNow } from './replication.js';
import { quorumSize } from './quorum.js';
import { newMessage } from './util.js';

export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Beat:
      bcastHeartbeat(r);
      return;
    case MessageType.CheckQuorum:
      if (!r.tracker.quorumActive(r.id)) {
        // Cut off from a majority for a whole election timeout: another leader may exist by now.
        r.becomeFollower(r.term, NONE);
      }
      for (const [id, pr] of r.tracker.progress) if (id !== r.id) pr.recentActive = false;
      return;
    case MessageType.Propose:
      handlePropose(r, m);
      return;
    case MessageType.ReadIndex:
      handleReadIndex(r, m);
      return;
  }

  // Everything else comes from a member; ignore members we do not track (e.g. just removed).
  const pr = r.tracker.progress.get(m.from);
  if (!pr) return;
  switch (m.type) {
    case MessageType.AppResp:
      if (m.from === r.id) {
        handleSelfAck(r, m);
        return;
      }
      pr.heardFrom();
      if (m.reject) handleAppendRejection(r, m);
      else handleAppendSuccess(r, m);
      return;
    case MessageType.HeartbeatResp:
      pr.heardFrom();
      pr.probeSent = false;
      // If the AppendEntries filling the window were lost, no ack will ever free it: the heartbeat
      // round trip proves the follower is reachable, so free a slot and let a probe through, which
      // the follower rejects if it missed entries (and the rejection resets the pipeline).
      if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirst();
      if (pr.match < r.log.lastIndex()) sendAppend(r, m.from);
      if (m.context.byteLength > 0) handleReadAck(r, m);
      return;
    case MessageType.SnapshotStatus:
      if (pr.state !== ProgressState.Snapshot) return;
      if (m.reject) pr.pendingSnapshot = 0; // failed: probe from match again
      pr.becomeProbe();
      // Wait for a heartbeat response before probing, rather than hammering a follower that just
      // failed (or is still busy installing the snapshot).
      pr.probeSent = true;
      return;
    case MessageType.Unreachable:
      // Optimistic pipelining to an unreachable member only wastes messages: fall back to probing.
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      return;
    case MessageType.TransferLeader:
      handleTransferLeader(r, m);
      return;
  }
}

function handlePropose(r: Raft, m: Message): void {
  if (m.entries.length === 0) throw new Error('raft: empty proposal');
  const local = m.from === r.id;
  const entries = r.checkProposal(m.entries, local);
  if (!entries) return;
  const confIndex = entries.findIndex((e) => e.type === EntryType.ConfChange);
  const before = r.log.lastIndex();
  r.appendEntries(entries);
  if (confIndex >= 0) r.pendingConfIndex = before + 1 + confIndex;
  bcastAppend(r);
}

/** Our own append is durable: count ourselves, and tell everyone if that moved the commit index. */
function handleSelfAck(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(r.id)!;
  const before = r.log.committed;
  if (pr.maybeUpdate(m.index) && r.maybeCommit()) announceCommit(r, before);
}

/**
 * Tells the followers of a new commit index. With synchronous writes, at once: an AppendEntries to
 * each (empty when it has everything). With asynchronous writes the commit index instead rides on
 * whatever goes next — the next proposal's AppendEntries, or the next heartbeat (within a heartbeat
 * interval) — so a write costs no commit-only round (message, response, Ready) of its own; only
 * followers with entries still to receive get an AppendEntries now. Except for a membership change
 * (or what a new leader inherited, which may hold one): the members must learn that commit at once,
 * as a leader that removed itself shuts down on applying it, and a removed member gets no heartbeat.
 */
function announceCommit(r: Raft, before: number): void {
  const confChange = r.pendingConfIndex > before && r.pendingConfIndex <= r.log.committed;
  if (!r.asyncStorageWrites || confChange) {
    bcastAppend(r);
    return;
  }
  for (const id of r.tracker.progress.keys()) if (id !== r.id) maybeSendAppend(r, id, false);
}

function handleAppendRejection(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from)!;
  // The follower told us its last entry at or below the probed index with a term <= ours there;
  // skip our entries of terms the follower cannot have (one round trip per term, not per entry).
  let nextProbe = m.rejectHint;
  if (m.logTerm > 0) nextProbe = r.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
  if (pr.maybeDecrTo(m.index, nextProbe)) {
    if (pr.state === ProgressState.Replicate) pr.becomeProbe();
    sendAppend(r, m.from);
  }
}

function handleAppendSuccess(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from)!;
  const wasPaused = pr.isPaused();
  // A probe answered at the match we already knew still proves the follower is in sync.
  const resynced = pr.state === ProgressState.Probe && pr.match === m.index;
  const before = r.log.committed;
  if (!pr.maybeUpdate(m.index) && !resynced) return;
  switch (pr.state) {
    case ProgressState.Probe:
      pr.becomeReplicate();
      break;
    case ProgressState.Snapshot:
      // Caught up past the snapshot (or the log covers it again): replicate from match.
      if (pr.match >= pr.pendingSnapshot || pr.match + 1 >= r.log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      }
      break;
    case ProgressState.Replicate:
      pr.inflights.freeLE(m.index);
      break;
  }
  if (r.maybeCommit()) {
    announceCommit(r, before);
  } else if (wasPaused) {
    sendAppend(r, m.from);
  }
  // Fill the window.
  while (maybeSendAppend(r, m.from, false)) {
    /* pipelining */
  }
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
    sendTimeoutNow(r, m.from);
    // A removed leader's hand-over (membership.ts) is done: it steps down.
    if (!r.tracker.isVoter(r.id)) r.becomeFollower(r.term, NONE);
  }
}

function handleTransferLeader(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from)!;
  const target = m.from;
  if (pr.learner) return; // a learner cannot lead
  if (r.leadTransferee !== NONE) {
    if (r.leadTransferee === target) return; // already under way
    r.leadTransferee = NONE;
  }
  if (target === r.id) return; // already the leader
  // The transfer must finish within an election timeout (tickHeartbeat aborts it otherwise).
  r.electionElapsed = 0;
  r.leadTransferee = target;
  if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, target);
  else sendAppend(r, target);
}

function handleReadIndex(r: Raft, m: Message): void {
  if (!r.committedEntryInCurrentTerm()) {
    // Our commit index may lag entries a previous leader committed (or, alone, entries we committed
    // before a restart that lost the commit index: our own copy counts only once durable, so a sole
    // voter too leads for a moment before its first commit); wait for our own first commit.
    r.pendingReadIndexMessages.push(m);
    return;
  }
  if (r.tracker.voters.size === 1 && r.tracker.isVoter(r.id)) {
    // Nobody else can be leader: the commit index is current.
    answerRead(r, m, r.log.committed);
    return;
  }
  r.readOnly.addRequest(r.log.committed, m);
  // The leader acknowledges itself; a heartbeat round confirms it is still the leader.
  r.readOnly.recvAck(r.id, m.entries[0].data);
  bcastHeartbeat(r, m.entries[0].data);
}

function handleReadAck(r: Raft, m: Message): void {
  const acks = r.readOnly.recvAck(m.from, m.context);
  if (!acks) return;
  let voterAcks = 0;
  for (const id of acks) if (r.tracker.isVoter(id)) voterAcks++;
  if (voterAcks < quorumSize(r.tracker.voters.size)) return;
  for (const { req, index } of r.readOnly.advance(m.context)) answerRead(r, req, index);
}

function answerRead(r: Raft, req: Message, index: number): void {
  const context = req.entries[0].data;
  if (req.from === NONE || req.from === r.id) {
    r.readStates.push({ index, context } satisfies ReadState);
  } else {
    r.send(newMessage(MessageType.ReadIndexResp, { to: req.from, index, context }));
  }
}
