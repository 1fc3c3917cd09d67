// Per-network membership: which nodes joined which network, as Lamport-timed attachments gossiped to
// the whole cluster (every node must know who to gossip a network's entries to, and a node about to
// join must know whom to bulk-sync with). Newer ltime wins; the node itself is the only writer of
// its attachments, so ties cannot conflict.
import type { Attachment } from './types.js';

interface Held extends Attachment {
  /** Marked locally when SWIM declares the node dead or left: it counts as out of every network. */
  gone: boolean;
  since: number;
}

export class NetworkMembership {
  private readonly byNetwork = new Map<string, Map<string, Held>>();

  get(network: string, node: string): Attachment | undefined {
    return this.byNetwork.get(network)?.get(node);
  }

  /** Nodes currently in `network` (joined and not gone), excluding none. */
  membersOf(network: string): string[] {
    const out: string[] = [];
    for (const a of this.byNetwork.get(network)?.values() ?? []) if (a.joined && !a.gone) out.push(a.node);
    return out;
  }

  networksOf(node: string): string[] {
    const out: string[] = [];
    for (const [net, m] of this.byNetwork) {
      const a = m.get(node);
      if (a && a.joined && !a.gone) out.push(net);
    }
    return out;
  }

  /** Everything we hold, as the push-pull carries it (a gone node's attachments read as left). */
  snapshot(): Attachment[] {
    const out: Attachment[] = [];
    for (const m of this.byNetwork.values()) {
      for (const a of m.values()) {
        out.push({ node: a.node, network: a.network, joined: a.joined && !a.gone, ltime: a.ltime });
      }
    }
    return out;
  }

  /**
   * Applies `a` if newer. Returns the change in effective membership: 'joined', 'left', or
   * undefined (stale, or no change in whether the node is in the network).
   */
  apply(a: Attachment, now: number): 'joined' | 'left' | 'newer' | undefined {
    let m = this.byNetwork.get(a.network);
    if (!m) this.byNetwork.set(a.network, (m = new Map()));
    const cur = m.get(a.node);
    if (cur && a.ltime <= cur.ltime) return undefined;
    const wasIn = cur !== undefined && cur.joined && !cur.gone;
    m.set(a.node, { ...a, gone: false, since: now });
    if (a.joined && !wasIn) return 'joined';
    if (!a.joined && wasIn) return 'left';
    return 'newer';
  }

  /** SWIM says `node` is dead or left: it is out of every network, until it re-asserts. */
  markGone(node: string, now: number): string[] {
    const left: string[] = [];
    for (const [net, m] of this.byNetwork) {
      const a = m.get(node);
      if (a && a.joined && !a.gone) {
        a.gone = true;
        a.since = now;
        left.push(net);
      }
    }
    return left;
  }

  /**
   * SWIM says `node` is alive again (it refuted its death): its attachments count again. If it
   * restarted instead and is no longer in a network, it retracts the attachment itself (owner
   * authority). Returns the networks it is back in.
   */
  unmarkGone(node: string, now: number): string[] {
    const back: string[] = [];
    for (const [net, m] of this.byNetwork) {
      const a = m.get(node);
      if (a && a.joined && a.gone) {
        a.gone = false;
        a.since = now;
        back.push(net);
      }
    }
    return back;
  }

  /** Forgets "left" and "gone" records older than `reapMs`. */
  reap(now: number, reapMs: number): void {
    for (const [net, m] of this.byNetwork) {
      for (const [node, a] of m) if ((!a.joined || a.gone) && now - a.since >= reapMs) m.delete(node);
      if (m.size === 0) this.byNetwork.delete(net);
    }
  }
}
