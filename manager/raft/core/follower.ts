// Follower and (pre-)candidate message handling, and the follower's side of replication.

import { type Message, MessageType, NONE, ProposalDroppedError, Role, type Snapshot } from '../types.js';
import type { Raft } from './raft.js';
import { newMessage, voteResponseType } from './util.js';

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Propose:
      if (r.lead === NONE) {
        if (m.from === r.id) throw new ProposalDroppedError('no leader');
        return;
      }
      r.send({ ...m, to: r.lead, term: 0 });
      return;
    case MessageType.App:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return;
    case MessageType.Heartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case MessageType.TransferLeader:
      if (r.lead === NONE) return;
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.TimeoutNow:
      // The leader chose us and we are caught up: campaign now, skipping pre-vote, with the
      // transfer context so that voters waive their leader lease.
      r.campaignForTransfer();
      return;
    case MessageType.ReadIndex:
      if (r.lead === NONE) return; // dropped; the caller retries
      r.send({ ...m, to: r.lead, term: 0 });
      return;
    case MessageType.ReadIndexResp:
      r.readStates.push({ index: m.index, context: m.context });
      return;
  }
}

export function stepCandidate(r: Raft, m: Message): void {
  // A pre-candidate counts pre-votes, a candidate real votes; the other kind is stale.
  const myResponse = voteResponseType(r.role === Role.PreCandidate ? MessageType.PreVote : MessageType.Vote);
  switch (m.type) {
    case MessageType.Propose:
      if (m.from === r.id) throw new ProposalDroppedError('no leader (election in progress)');
      return;
    case MessageType.App:
      r.becomeFollower(m.term, m.from); // a leader of our term exists
      handleAppendEntries(r, m);
      return;
    case MessageType.Heartbeat:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case MessageType.ReadIndexResp:
      // Answers a read forwarded to the previous leader; it confirmed leadership, so it stands.
      r.readStates.push({ index: m.index, context: m.context });
      return;
    case myResponse:
      r.handleVoteResult(r.poll(m.from, !m.reject));
      return;
  }
}

function handleAppendEntries(r: Raft, m: Message): void {
  if (m.index < r.log.committed) {
    // Everything up to our commit index is settled; say so, and the leader moves on from there.
    r.send(newMessage(MessageType.AppResp, { to: m.from, index: r.log.committed }));
    return;
  }
  const lastNew = r.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== undefined) {
    r.send(newMessage(MessageType.AppResp, { to: m.from, index: lastNew }));
    return;
  }
  // Mismatch at m.index. Hint the last index at or below it whose term is <= the leader's term
  // there: entries above it cannot match, whatever the leader's log holds.
  const hint = r.log.findConflictByTerm(Math.min(m.index, r.log.lastIndex()), m.logTerm);
  r.send(
    newMessage(MessageType.AppResp, {
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    }),
  );
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.log.commitTo(m.commit);
  r.send(newMessage(MessageType.HeartbeatResp, { to: m.from, context: m.context }));
}

function handleSnapshot(r: Raft, m: Message): void {
  const s = m.snapshot;
  if (!s) return;
  if (restoreSnapshot(r, s)) {
    r.send(newMessage(MessageType.AppResp, { to: m.from, index: r.log.lastIndex() }));
  } else {
    r.send(newMessage(MessageType.AppResp, { to: m.from, index: r.log.committed }));
  }
}

/** Installs a snapshot if it is newer than the log; returns whether it was installed. */
function restoreSnapshot(r: Raft, s: Snapshot): boolean {
  if (s.metadata.index <= r.log.committed) return false;
  if (r.role !== Role.Follower) throw new Error('raft: a non-follower was asked to restore a snapshot');
  if (r.log.matchTerm(s.metadata.index, s.metadata.term)) {
    // We hold that entry: the snapshot only tells us it is committed.
    r.log.commitTo(s.metadata.index);
    return false;
  }
  r.log.restore(s);
  // The snapshot's membership is the one its state describes. It may predate our own addition (the
  // leader sends the snapshot it has); entries after it then add us.
  r.tracker.reset(s.metadata.confState, r.log.lastIndex() + 1);
  return true;
}
