// Raft's safety properties (Figure 3 of the paper), checked continuously while the simulation runs.
// Each check is incremental, so it can run after every event:
//   Election Safety      at most one leader per term (over the whole run, crashes included).
//   Leader Append-Only   while a member leads term T, its log only grows: the highest index it held
//                        as leader stays, with the same term.
//   Log Matching         every entry a member writes is recorded under (index, term) with its bytes and
//                        the term of the entry before it; any other member writing the same (index, term)
//                        must agree on both, which by induction makes the prefixes identical.
//   Leader Completeness  a member that has just become leader of term T holds every entry committed by
//                        a leader of a term before T (an election for T can finish late, after a
//                        leader of a later term committed more, so only earlier terms' commits count).
//   State Machine Safety every member applies the same entry at each index, and its state (a rolling
//                        hash of the applied prefix) agrees, including states installed from snapshots.

import type { Entry } from '../types.js';
import type { RaftLog } from '../core/log.js';

export class SafetyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

interface LedgerEntry {
  term: number;
  data: string;
}

function dataKey(e: Entry): string {
  return `${e.type}:${Buffer.from(e.data).toString('base64')}`;
}

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, number>();
  /** Per member: the term it leads and the highest index it has held during that term. */
  private readonly leaderWatermark = new Map<number, { term: number; index: number; indexTerm: number }>();
  private readonly written = new Map<string, { data: string; prevTerm: number }>();
  /** Applied entries by index (index 0 unused), and the state hash after applying each index. */
  private readonly applied: (LedgerEntry | undefined)[] = [];
  private readonly stateHash = new Map<number, number>();
  /** commitTerm[i]: the lowest term whose leader was seen with commit index >= i. */
  private readonly commitTerm: number[] = [];
  private readonly leaderCommitSeen = new Map<number, number>();
  /** The term of the entry at each committed index, as the committing leader held it. */
  private readonly committedEntryTerm: number[] = [];
  leadersElected = 0;

  /** Called after every event with each live member's role, term and log. */
  observe(id: number, isLeader: boolean, term: number, log: RaftLog): void {
    if (!isLeader) return;
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) {
      this.leaderOfTerm.set(term, id);
      this.leadersElected++;
      this.checkLeaderCompleteness(id, term, log);
    } else if (known !== id) {
      throw new SafetyViolation(`election safety: members ${known} and ${id} both led term ${term}`);
    }
    this.checkAppendOnly(id, term, log);
    this.recordLeaderCommit(term, log);
  }

  private recordLeaderCommit(term: number, log: RaftLog): void {
    const seen = this.leaderCommitSeen.get(term) ?? 0;
    for (let i = seen + 1; i <= log.committed; i++) {
      if (this.commitTerm[i] === undefined || this.commitTerm[i] > term) this.commitTerm[i] = term;
      const entryTerm = log.termOrZero(i);
      if (entryTerm !== 0) {
        const known = this.committedEntryTerm[i];
        if (known !== undefined && known !== entryTerm) {
          throw new SafetyViolation(
            `state machine safety: index ${i} committed with terms ${known} and ${entryTerm}`,
          );
        }
        this.committedEntryTerm[i] = entryTerm;
      }
    }
    if (log.committed > seen) this.leaderCommitSeen.set(term, log.committed);
  }

  private checkLeaderCompleteness(id: number, term: number, log: RaftLog): void {
    const first = log.firstIndex();
    for (let i = 1; i < this.commitTerm.length; i++) {
      const t = this.commitTerm[i];
      if (t === undefined || t >= term) continue;
      const committedTerm = this.committedEntryTerm[i];
      if (i > log.lastIndex()) {
        throw new SafetyViolation(
          `leader completeness: leader ${id} of term ${term} ends at ${log.lastIndex()} but ${i} was committed in term ${t}`,
        );
      }
      if (i >= first && committedTerm !== undefined && log.termOrZero(i) !== committedTerm) {
        throw new SafetyViolation(
          `leader completeness: leader ${id} of term ${term} has term ${log.termOrZero(i)} at ${i}, committed entry has term ${committedTerm}`,
        );
      }
    }
  }

  private checkAppendOnly(id: number, term: number, log: RaftLog): void {
    const w = this.leaderWatermark.get(id);
    const last = log.lastIndex();
    if (w && w.term === term) {
      if (last < w.index || log.termOrZero(w.index) !== w.indexTerm) {
        if (w.index >= log.firstIndex()) {
          throw new SafetyViolation(
            `leader append-only: leader ${id} of term ${term} lost entry ${w.index} (now ends at ${last})`,
          );
        }
      }
    }
    this.leaderWatermark.set(id, { term, index: last, indexTerm: log.termOrZero(last) });
  }

  /** A member handed `ents` to storage; `prevTerm` is the term of the entry before the first (0 = unknown). */
  recordWrite(id: number, ents: Entry[], prevTerm: number): void {
    for (const e of ents) {
      const key = `${e.index}/${e.term}`;
      const rec = { data: dataKey(e), prevTerm };
      const seen = this.written.get(key);
      if (!seen) this.written.set(key, rec);
      else {
        if (seen.data !== rec.data) {
          throw new SafetyViolation(
            `log matching: member ${id} wrote different data at index ${e.index} term ${e.term}`,
          );
        }
        if (seen.prevTerm !== 0 && rec.prevTerm !== 0 && seen.prevTerm !== rec.prevTerm) {
          throw new SafetyViolation(
            `log matching: member ${id} has term ${rec.prevTerm} before ${key}, another member ${seen.prevTerm}`,
          );
        }
        if (seen.prevTerm === 0) seen.prevTerm = rec.prevTerm;
      }
      prevTerm = e.term;
    }
  }

  /** A member applied entry e, reaching state hash `hash`. */
  recordApply(id: number, e: Entry, hash: number): void {
    const seen = this.applied[e.index];
    const data = dataKey(e);
    if (!seen) this.applied[e.index] = { term: e.term, data };
    else if (seen.term !== e.term || seen.data !== data) {
      throw new SafetyViolation(
        `state machine safety: member ${id} applied ${e.index}/${e.term}, another member applied ${e.index}/${seen.term}`,
      );
    }
    this.recordState(id, e.index, hash);
  }

  /** A member's state at `index` (after applying it, or installed from a snapshot) has this hash. */
  recordState(id: number, index: number, hash: number): void {
    const seen = this.stateHash.get(index);
    if (seen === undefined) this.stateHash.set(index, hash);
    else if (seen !== hash) {
      throw new SafetyViolation(
        `state machine safety: member ${id} state at ${index} differs from another member's`,
      );
    }
  }
}
