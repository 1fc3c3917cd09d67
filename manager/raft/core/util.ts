// Small helpers shared by the core's modules: message construction, entry sizes, context keys.

import { type Entry, type Message, MessageType, NONE } from '../types.js';

const EMPTY = new Uint8Array(0);

/** A message with every field defaulted, so handlers only spell out what matters. */
export function newMessage(type: MessageType, fields: Partial<Message> = {}): Message {
  return {
    type,
    to: NONE,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: EMPTY,
    ...fields,
  };
}

/** Bytes an entry contributes to a message; the fixed part approximates its framing on the wire. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 16;
}

/** The longest prefix of `ents` within maxBytes, but always at least one entry (progress over purity). */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]);
  let n = 1;
  while (n < ents.length) {
    size += entrySize(ents[n]);
    if (size > maxBytes) break;
    n++;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/** A stable string key for an opaque byte context (ReadIndex requests are keyed by it). */
export function contextKey(ctx: Uint8Array): string {
  let s = '';
  for (const b of ctx) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Vote requests caused by a leadership transfer carry this context so they bypass the leader lease. */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');

export function isTransferCampaign(ctx: Uint8Array): boolean {
  return contextKey(ctx) === contextKey(CAMPAIGN_TRANSFER);
}

/** The response type a vote request of type t expects. */
export function voteResponseType(t: MessageType): MessageType {
  return t === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
}
