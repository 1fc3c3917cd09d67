// Shape checks for decoded gossip messages. Authentication proves a packet came from a key holder,
// not that its JSON has the shape the cores assume; a peer running a buggy or newer build must not be
// able to crash us with a missing field. Every field is checked before a message reaches a core.
import type { Packet, SyncMessage, WireMessage } from './core.js';

const MAX_ID = 256;
const MAX_VALUE = 256 * 1024;

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (x: unknown, max = MAX_ID) => typeof x === 'string' && x.length <= max;
const nat = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const bool = (x: unknown) => typeof x === 'boolean';
const memberState = (x: unknown) => x === 'alive' || x === 'suspect' || x === 'dead' || x === 'left';

function attachmentOk(o: Obj): boolean {
  return str(o.node) && str(o.network) && bool(o.joined) && nat(o.ltime);
}

function entryOk(o: Obj): boolean {
  return (
    str(o.table) &&
    str(o.network) &&
    str(o.key, 4096) &&
    str(o.value, MAX_VALUE) &&
    str(o.owner) &&
    nat(o.ltime) &&
    bool(o.deleted)
  );
}

function messageOk(x: unknown): x is WireMessage {
  if (!isObj(x)) return false;
  switch (x.t) {
    case 'ping':
      return nat(x.seq) && str(x.target);
    case 'ping-req':
      return nat(x.seq) && str(x.target) && str(x.targetAddr);
    case 'ack':
    case 'nack':
      return nat(x.seq);
    case 'alive':
      return str(x.node) && str(x.addr) && nat(x.inc);
    case 'suspect':
    case 'dead':
      return str(x.node) && nat(x.inc) && str(x.from);
    case 'net':
      return attachmentOk(x);
    case 'entry':
      return entryOk(x);
    default:
      return false;
  }
}

export function packetOk(x: unknown): x is Packet {
  return isObj(x) && str(x.from) && str(x.addr) && Array.isArray(x.msgs) && x.msgs.every(messageOk);
}

const listOf = (x: unknown, ok: (o: Obj) => boolean) =>
  x === undefined || (Array.isArray(x) && x.every((e) => isObj(e) && ok(e)));

export function syncOk(x: unknown): x is SyncMessage {
  if (!isObj(x)) return false;
  if (x.kind !== 'push-pull' && x.kind !== 'bulk-sync') return false;
  if (!str(x.from) || !str(x.addr) || !bool(x.join)) return false;
  return (
    listOf(x.members, (m) => str(m.id) && str(m.addr) && nat(m.inc) && memberState(m.state)) &&
    listOf(x.attachments, attachmentOk) &&
    listOf(x.networks, (n) => str(n.network) && listOf(n.entries, entryOk))
  );
}
