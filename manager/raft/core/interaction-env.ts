// A scriptable cluster of RawNodes for interaction tests: each command drives the nodes by hand
// (campaign, tick, propose, handle a Ready, deliver messages...) and returns the lines it observed.
// Message delivery is explicit, so every interleaving in a test file is exactly the one written.

import {
  ConfChangeType,
  type Entry,
  EntryType,
  type Message,
  ProposalDroppedError,
  type RaftId,
  type Ready,
} from '../types.js';
import { bootstrapStorage } from './bootstrap.js';
import { decodeConfChange } from './confchange.js';
import {
  describeConfChangeType,
  describeEntry,
  describeMessage,
  describeReady,
  describeStatus,
} from './describe.js';
import { MemoryStorage } from './memory-storage.js';
import { RawNode } from './rawnode.js';

interface EnvNode {
  id: RaftId;
  storage: MemoryStorage;
  raw: RawNode;
  options: NodeOptions;
  /** Data of applied normal entries, in order (the test's state machine). */
  applied: string[];
  /** Every entry this member ever applied, across restarts (for safety checks). */
  appliedEntries: Entry[];
  confState: { voters: RaftId[]; learners: RaftId[] };
}

interface NodeOptions {
  preVote: boolean;
  checkQuorum: boolean;
  maxInflight: number;
  maxSize: number;
}

export interface Command {
  name: string;
  args: string[];
  kv: Map<string, string>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class InteractionEnv {
  private readonly nodes = new Map<RaftId, EnvNode>();
  /** Messages sent and not yet delivered, in send order. */
  private queue: Message[] = [];
  private readonly isolated = new Set<RaftId>();
  private nextId = 1;

  run(cmd: Command): string[] {
    const ids = () => cmd.args.map(Number);
    switch (cmd.name) {
      case 'add-nodes':
        return this.addNodes(Number(cmd.args[0]), cmd.kv);
      case 'campaign':
        return this.each(ids(), (n) => n.raw.campaign());
      case 'tick':
        return this.tick(Number(cmd.args[0]), Number(cmd.args[1] ?? 1));
      case 'tick-election':
        return this.tick(Number(cmd.args[0]), 10); // one election timeout (timeouts are not randomized here)
      case 'tick-heartbeat':
        return this.tick(Number(cmd.args[0]), 1);
      case 'propose':
        return this.guard(() => this.node(Number(cmd.args[0])).raw.propose(enc.encode(cmd.args[1] ?? '')));
      case 'propose-conf-change':
        return this.proposeConfChange(Number(cmd.args[0]), cmd.kv);
      case 'process-ready':
        return ids().flatMap((id) => this.processReady(id));
      case 'deliver-msgs':
        return this.deliver(ids(), cmd.kv.get('drop') === 'true');
      case 'stabilize':
        return this.stabilize(cmd.args.length > 0 ? ids() : [...this.nodes.keys()]);
      case 'status':
        return ids().flatMap((id) => describeStatus(this.node(id).raw.status()));
      case 'raft-log':
        return this.raftLog(Number(cmd.args[0]));
      case 'isolate':
        ids().forEach((id) => this.isolated.add(id));
        return [];
      case 'heal':
        this.isolated.clear();
        return [];
      case 'read-index':
        return this.guard(() => this.node(Number(cmd.args[0])).raw.readIndex(enc.encode(cmd.args[1])));
      case 'transfer-leadership':
        return this.guard(() =>
          this.node(Number(cmd.kv.get('from'))).raw.transferLeader(Number(cmd.kv.get('to'))),
        );
      case 'report-snapshot':
        return this.guard(() =>
          this.node(Number(cmd.args[0])).raw.reportSnapshot(Number(cmd.args[1]), cmd.args[2] === 'ok'),
        );
      case 'report-unreachable':
        return this.guard(() => this.node(Number(cmd.args[0])).raw.reportUnreachable(Number(cmd.args[1])));
      case 'compact':
        return this.compact(Number(cmd.args[0]), Number(cmd.args[1]));
      case 'restart':
        return this.restart(Number(cmd.args[0]));
      case 'applied':
        return ids().map(
          (id) =>
            `${id}: ${this.node(id)
              .applied.map((s) => JSON.stringify(s))
              .join(' ')}`,
        );
      default:
        throw new Error(`unknown command ${cmd.name}`);
    }
  }

  private node(id: RaftId): EnvNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  private each(ids: RaftId[], f: (n: EnvNode) => void): string[] {
    for (const id of ids) f(this.node(id));
    return [];
  }

  private guard(f: () => void): string[] {
    try {
      f();
      return [];
    } catch (e) {
      if (e instanceof ProposalDroppedError) return [`error: ${e.message}`];
      throw e;
    }
  }

  /**
   * add-nodes N [voters=1,2,3] [learners=4] [index=1] [prevote=true] [checkquorum=true] [inflight=256]
   * [max-size=1048576]: nodes with voters/learners start from a bootstrap snapshot; others start empty
   * (members to be added by a conf change).
   */
  private addNodes(count: number, kv: Map<string, string>): string[] {
    const list = (k: string) => (kv.get(k) ? kv.get(k)!.split(',').map(Number) : []);
    const voters = list('voters');
    const learners = list('learners');
    const options: NodeOptions = {
      preVote: kv.get('prevote') !== 'false',
      checkQuorum: kv.get('checkquorum') !== 'false',
      maxInflight: Number(kv.get('inflight') ?? 256),
      maxSize: Number(kv.get('max-size') ?? 1024 * 1024),
    };
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = this.nextId++;
      const storage = new MemoryStorage();
      const index = Number(kv.get('index') ?? 1);
      if (voters.length > 0 && learners.length === 0 && index === 1) {
        bootstrapStorage(storage, voters);
      } else if (voters.length > 0) {
        // The same shape as a bootstrap, at another index or with learners.
        storage.applySnapshot({
          metadata: { index, term: 1, confState: { voters, learners } },
          data: new Uint8Array(0),
        });
        storage.setHardState({ term: 1, vote: 0, commit: index });
      }
      const n: EnvNode = {
        id,
        storage,
        raw: this.newRawNode(id, storage, options),
        options,
        applied: [],
        appliedEntries: [],
        confState: storage.initialState().confState,
      };
      this.nodes.set(id, n);
      out.push(...describeStatus(n.raw.status()));
    }
    return out;
  }

  private newRawNode(id: RaftId, storage: MemoryStorage, o: NodeOptions): RawNode {
    return new RawNode({
      id,
      electionTicks: 10,
      heartbeatTicks: 1,
      storage,
      applied: storage.snapshot().metadata.index,
      maxSizePerMsg: o.maxSize,
      maxInflightMsgs: o.maxInflight,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
      // Deterministic timeouts: every randomized election timeout is exactly electionTicks.
      random: () => 0,
    });
  }

  private tick(id: RaftId, count: number): string[] {
    const n = this.node(id);
    for (let i = 0; i < count; i++) n.raw.tick();
    return [];
  }

  /** propose-conf-change ID add-voter=4 | add-learner=4 | remove=2 */
  private proposeConfChange(id: RaftId, kv: Map<string, string>): string[] {
    const [key, value] = [...kv][0];
    const type = {
      'add-voter': ConfChangeType.AddVoter,
      'add-learner': ConfChangeType.AddLearner,
      remove: ConfChangeType.RemoveMember,
    }[key];
    if (type === undefined) throw new Error(`unknown conf change ${key}`);
    return this.guard(() =>
      this.node(id).raw.proposeConfChange({ type, id: Number(value), context: new Uint8Array(0) }),
    );
  }

  /** Persists, "sends" (queues), and applies one Ready, as a shell would. */
  private processReady(id: RaftId): string[] {
    const n = this.node(id);
    if (!n.raw.hasReady()) return [];
    const rd: Ready = n.raw.ready();
    const out = [`> ${id} handling Ready`, ...describeReady(rd).map((l) => `  ${l}`)];
    if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    // Messages across an isolation are lost on the wire right away.
    this.queue.push(...rd.messages.filter((m) => !this.isolated.has(m.from) && !this.isolated.has(m.to)));
    if (rd.snapshot) {
      n.confState = rd.snapshot.metadata.confState;
      n.applied.push(`<snapshot ${rd.snapshot.metadata.index}>`);
    }
    for (const e of rd.committedEntries) {
      n.appliedEntries.push(e);
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChange(e.data);
        n.confState = n.raw.applyConfChange(cc);
        out.push(
          `  applied ${describeConfChangeType(cc.type)} ${cc.id}: voters=[${n.confState.voters.join(',')}] learners=[${n.confState.learners.join(',')}]`,
        );
      } else if (e.data.byteLength > 0) {
        n.applied.push(dec.decode(e.data));
      }
    }
    n.raw.advance(rd);
    return out;
  }

  private deliver(ids: RaftId[], drop: boolean): string[] {
    const out: string[] = [];
    for (const id of ids) {
      const mine = this.queue.filter((m) => m.to === id);
      if (mine.length === 0) continue;
      this.queue = this.queue.filter((m) => m.to !== id);
      const n = this.nodes.get(id);
      for (const m of mine) {
        const lost = drop || !n || this.isolated.has(m.to) || this.isolated.has(m.from);
        out.push(`${lost ? 'dropped' : 'delivered'}: ${describeMessage(m)}`);
        if (!lost) n!.raw.step(m);
      }
    }
    return out;
  }

  /** Handles Readys and delivers messages until nothing moves. */
  private stabilize(ids: RaftId[]): string[] {
    const out: string[] = [];
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const id of ids) {
        const lines = this.processReady(id);
        if (lines.length > 0) moved = true;
        out.push(...lines);
      }
      const targets = ids.filter((id) => this.queue.some((m) => m.to === id));
      if (targets.length > 0) {
        moved = true;
        for (const id of targets) {
          const lines = this.deliver([id], false);
          out.push(`> ${id} receiving messages`, ...lines.map((l) => `  ${l}`));
        }
      }
      if (!moved) return out;
    }
    throw new Error('stabilize: did not settle in 1000 rounds');
  }

  private raftLog(id: RaftId): string[] {
    const log = this.node(id).raw.raft.log;
    const first = log.firstIndex();
    const last = log.lastIndex();
    if (last < first) return [`log is empty: first index=${first}, last index=${last}`];
    return log.slice(first, last + 1, Infinity).map(describeEntry);
  }

  /** compact ID INDEX: snapshot the state at INDEX (<= applied) and drop the log up to it. */
  private compact(id: RaftId, index: number): string[] {
    const n = this.node(id);
    n.storage.createSnapshot(index, n.confState, enc.encode(JSON.stringify(n.applied)));
    n.storage.compact(index);
    return [`compacted ${id} to ${index}: first index=${n.storage.firstIndex()}`];
  }

  /** restart ID: the process dies (losing anything not persisted, including undelivered mail) and comes back. */
  private restart(id: RaftId): string[] {
    const n = this.node(id);
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
    n.raw = this.newRawNode(id, n.storage, n.options);
    n.applied = [`<restarted at ${n.storage.snapshot().metadata.index}>`];
    return describeStatus(n.raw.status());
  }

  pendingMessages(): Message[] {
    return this.queue;
  }

  /** Runs one command line (as written in a test file). */
  runLine(line: string): string[] {
    return this.run(parseCommand(line));
  }

  rawNode(id: RaftId): RawNode {
    return this.node(id).raw;
  }

  /** Every applied normal entry's data, in order, since the node last (re)started. */
  appliedData(id: RaftId): string[] {
    return this.node(id).applied;
  }

  appliedEntries(id: RaftId): Entry[] {
    return this.node(id).appliedEntries;
  }

  nodeIds(): RaftId[] {
    return [...this.nodes.keys()];
  }
}

export function parseCommand(line: string): Command {
  const [name, ...rest] = line.trim().split(/\s+/);
  const args: string[] = [];
  const kv = new Map<string, string>();
  for (const word of rest) {
    const eq = word.indexOf('=');
    if (eq > 0) kv.set(word.slice(0, eq), word.slice(eq + 1));
    else args.push(word);
  }
  return { name, args, kv };
}
