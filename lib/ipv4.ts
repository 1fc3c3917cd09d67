// IPv4 parsing and range relations, on top of ip-num. Inside the allocator an address is a plain
// number (0 .. 2^32-1) so that pools can index bitmaps with it; ip-num does the parsing, validation
// and CIDR bounds (network and broadcast address of a prefix).
import { IPv4, IPv4CidrRange, IPv4Prefix, Validator } from 'ip-num';

/** A parsed, canonical IPv4 CIDR (no host bits set). */
export interface Cidr {
  readonly text: string;
  readonly prefix: number;
  /** The network address and the broadcast address, as numbers. */
  readonly first: number;
  readonly last: number;
}

function fromRange(range: IPv4CidrRange): Cidr {
  return {
    text: range.toCidrString(),
    prefix: Number(range.getPrefix().value),
    first: Number(range.getFirst().value),
    last: Number(range.getLast().value),
  };
}

/** Parses "10.0.1.0/24"; returns an error message for anything else (IPv6, host bits set, junk). */
export function parseCidr(text: string): Cidr | string {
  if (!Validator.isValidIPv4CidrNotation(text)[0]) return `"${text}" is not an IPv4 CIDR such as 10.0.1.0/24`;
  if (!Validator.isValidIPv4CidrRange(text)[0]) {
    const [addr, prefix] = text.split('/');
    const size = 2 ** (32 - Number(prefix));
    const base = Number(new IPv4(addr).value);
    return `${text} has host bits set: did you mean ${cidrAt(base - (base % size), Number(prefix)).text}?`;
  }
  return fromRange(IPv4CidrRange.fromCidr(text));
}

/** The CIDR of the given prefix length starting at `first` (which must be aligned). */
export function cidrAt(first: number, prefix: number): Cidr {
  return fromRange(new IPv4CidrRange(IPv4.fromNumber(BigInt(first)), IPv4Prefix.fromNumber(BigInt(prefix))));
}

/** Parses "10.0.1.1"; returns an error message otherwise. */
export function parseAddress(text: string): number | string {
  if (!Validator.isValidIPv4String(text)[0]) return `"${text}" is not an IPv4 address`;
  return Number(new IPv4(text).value);
}

/**
 * Dotted-quad text of an address. Hand-written because it is the hot path: building an ip-num IPv4
 * costs microseconds (bigint and binary-string conversions), which alone would eat most of the budget
 * for allocating 10,000 task addresses; ipv4.test.ts checks it against ip-num.
 */
export function formatAddress(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

// Range relations compare the numeric bounds ip-num computed: ip-num's own isOverlapping/contains go
// through binary strings and cost ~0.3 ms each, which made carving a /16 into /24s take minutes.
export const overlaps = (a: Cidr, b: Cidr): boolean => a.first <= b.last && b.first <= a.last;

/** Whether `inner` lies entirely inside `outer`. */
export const containsCidr = (outer: Cidr, inner: Cidr): boolean =>
  outer.first <= inner.first && inner.last <= outer.last;

export const containsAddress = (c: Cidr, addr: number): boolean => c.first <= addr && addr <= c.last;

/** "10.0.1.5/24": an address with its subnet's prefix length, the form task and VIP addresses take. */
export const addressInSubnet = (addr: number, subnet: Cidr): string =>
  `${formatAddress(addr)}/${subnet.prefix}`;

const ADDRESS_WITH_PREFIX = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/**
 * Parses "10.0.1.5/24" (host bits allowed: it names an address, not a network). Hand-written for the
 * same reason as formatAddress: a new leader parses every task address in the store, and ip-num's
 * validator costs tens of microseconds per address. Strict: the text must be exactly what
 * formatAddress would print (no leading zeros), which ipv4.test.ts checks against ip-num.
 */
export function parseAddressWithPrefix(text: string): { addr: number; prefix: number } | string {
  const m = ADDRESS_WITH_PREFIX.exec(text);
  const octets = m ? [m[1], m[2], m[3], m[4]].map(Number) : [];
  const prefix = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || prefix > 32 || `${prefix}` !== m[5]) {
    return `"${text}" is not an address such as 10.0.1.5/24`;
  }
  const addr = ((octets[0] * 256 + octets[1]) * 256 + octets[2]) * 256 + octets[3];
  return formatAddress(addr) === text.slice(0, text.indexOf('/'))
    ? { addr, prefix }
    : `"${text}" is not an address such as 10.0.1.5/24`;
}
