// Compact, stable text renderings of the core's values, for golden test output and debugging.

import {
  ConfChangeType,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type RaftStatus,
  type Ready,
  type Snapshot,
} from '../types.js';
import { decodeConfChange } from './confchange.js';

const dec = new TextDecoder();

export function describeConfChangeType(t: ConfChangeType): string {
  return {
    [ConfChangeType.AddVoter]: 'add-voter',
    [ConfChangeType.AddLearner]: 'add-learner',
    [ConfChangeType.RemoveMember]: 'remove',
  }[t];
}

export function describeEntry(e: Entry): string {
  if (e.type === EntryType.ConfChange) {
    const cc = decodeConfChange(e.data);
    return `${e.term}/${e.index} conf ${describeConfChangeType(cc.type)} ${cc.id}`;
  }
  return `${e.term}/${e.index} ${JSON.stringify(dec.decode(e.data))}`;
}

function describeSnapshot(s: Snapshot): string {
  const cs = s.metadata.confState;
  return `index=${s.metadata.index} term=${s.metadata.term} voters=[${cs.voters.join(',')}] learners=[${cs.learners.join(',')}]`;
}

function describeHardState(hs: HardState): string {
  return `term=${hs.term} vote=${hs.vote} commit=${hs.commit}`;
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${MessageType[m.type]} term=${m.term}`;
  switch (m.type) {
    case MessageType.App:
      s += ` log=${m.logTerm}/${m.index} commit=${m.commit}`;
      if (m.entries.length > 0) s += ` entries=[${m.entries.map(describeEntry).join(', ')}]`;
      break;
    case MessageType.AppResp:
      s += ` index=${m.index}`;
      if (m.reject) s += ` reject hint=${m.logTerm}/${m.rejectHint}`;
      break;
    case MessageType.Vote:
    case MessageType.PreVote:
      s += ` last=${m.logTerm}/${m.index}`;
      break;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      if (m.reject) s += ' reject';
      break;
    case MessageType.Heartbeat:
      s += ` commit=${m.commit}`;
      break;
    case MessageType.Snap:
      s += ` snapshot ${describeSnapshot(m.snapshot!)}`;
      break;
    case MessageType.ReadIndexResp:
      s += ` index=${m.index}`;
      break;
    case MessageType.Propose:
    case MessageType.ReadIndex:
      s += ` entries=[${m.entries.map(describeEntry).join(', ')}]`;
      break;
  }
  if (m.context.byteLength > 0) s += ` ctx=${JSON.stringify(dec.decode(m.context))}`;
  return s;
}

export function describeReady(rd: Ready): string[] {
  const out: string[] = [];
  if (rd.softState) out.push(`State: ${rd.softState.role} lead=${rd.softState.leader}`);
  if (rd.hardState) out.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.snapshot) out.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.entries.length > 0) out.push('Entries:', ...rd.entries.map((e) => `  ${describeEntry(e)}`));
  if (rd.committedEntries.length > 0) {
    out.push('CommittedEntries:', ...rd.committedEntries.map((e) => `  ${describeEntry(e)}`));
  }
  if (rd.readStates.length > 0) {
    out.push(
      'ReadStates:',
      ...rd.readStates.map((r) => `  index=${r.index} ctx=${JSON.stringify(dec.decode(r.context))}`),
    );
  }
  if (rd.messages.length > 0) out.push('Messages:', ...rd.messages.map((m) => `  ${describeMessage(m)}`));
  return out;
}

export function describeStatus(st: RaftStatus): string[] {
  const out = [
    `${st.id} ${st.role} term=${st.term} vote=${st.vote} lead=${st.leader} commit=${st.commit} applied=${st.applied}` +
      ` voters=[${st.confState.voters.join(',')}] learners=[${st.confState.learners.join(',')}]` +
      (st.leadTransferee !== 0 ? ` transferring-to=${st.leadTransferee}` : ''),
  ];
  for (const p of st.progress) {
    out.push(
      `  ${p.id}${p.learner ? ' (learner)' : ''}: ${p.state} match=${p.match} next=${p.next}` +
        (p.inflight > 0 ? ` inflight=${p.inflight}` : '') +
        (p.recentActive ? '' : ' inactive') +
        (p.reachable ? '' : ' unreachable'),
    );
  }
  return out;
}
