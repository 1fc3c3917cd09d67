// The two resolv.conf files the embedded DNS deals with: the one every task gets (its only nameserver
// is the embedded resolver at 127.0.0.11), and the host's, whose nameservers are where the resolver
// forwards what it does not own. Pure text in, text out; the callers read and write the files.
import { isIPv4, isIPv6 } from 'node:net';

/** Where the embedded resolver listens inside every task's network namespace. */
export const EMBEDDED_DNS_ADDRESS = '127.0.0.11';

// A search domain is a host name (letters, digits, '-', '_', dots); an option is a word with an
// optional `:value` (`ndots:2`, `timeout:1`, `edns0`, `use-vc`). Anything else (spaces, newlines, '#')
// could smuggle extra lines into the file, so it is refused with one message, at task prepare time.
const SEARCH_DOMAIN =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const OPTION = /^[a-z][a-z0-9_-]{0,31}(?::[0-9]{1,5})?$/;

/**
 * The task's /etc/resolv.conf: `nameserver 127.0.0.11`, the service's `--dns-search` domains and its
 * `--dns-option`s, with `ndots:0` unless the service set its own ndots (Docker's swarm default: a
 * service name is tried as it is, before any search domain). `--dns` servers are not written here:
 * they replace the embedded resolver's upstreams for the task (DnsTask.nameservers). A search domain
 * of "." means "no search list" (Docker's convention).
 */
export function resolvConf(dns: { search: string[]; options: string[] }): string {
  const problem = checkTaskDns({ nameservers: [], ...dns });
  if (problem) throw new Error(problem);
  const search = dns.search.filter((d) => d !== '.');
  const options = dns.options.some((o) => o.startsWith('ndots:')) ? dns.options : ['ndots:0', ...dns.options];
  const lines = [
    '# written by swarmlite: the embedded DNS answers service and task names',
    `nameserver ${EMBEDDED_DNS_ADDRESS}`,
  ];
  if (search.length > 0) lines.push(`search ${search.join(' ')}`);
  lines.push(`options ${[...new Set(options)].join(' ')}`);
  return lines.join('\n') + '\n';
}

/**
 * Why a service's `--dns`, `--dns-search` and `--dns-option` cannot be used, or undefined: what the
 * control API refuses at create/update, and what resolvConf re-checks before it writes a file.
 */
export function checkTaskDns(dns: {
  nameservers: string[];
  search: string[];
  options: string[];
}): string | undefined {
  for (const n of dns.nameservers)
    if (!parseUpstream(n)) return `invalid DNS server "${n}": use an IP address, optionally with :PORT`;
  const search = dns.search.filter((d) => d !== '.');
  for (const d of search)
    if (!SEARCH_DOMAIN.test(d))
      return `invalid DNS search domain "${d}": use a domain name such as example.com`;
  if (search.join(' ').length > 1024) return 'invalid DNS search list: at most 1024 characters in all';
  for (const o of dns.options)
    if (!OPTION.test(o)) return `invalid DNS option "${o}": use NAME or NAME:NUMBER, e.g. ndots:2`;
  return undefined;
}

/**
 * The nameservers of a resolv.conf text, as upstream addresses, in file order. The embedded
 * resolver's own address is skipped (forwarding to it would loop), as are IPv6 link-local addresses
 * with a zone, which the daemon's namespace may not have.
 */
export function upstreamsFromResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)$/.exec(line);
    if (!m) continue;
    const addr = m[1]!;
    if (addr.includes('%') || isEmbeddedAddress(addr)) continue;
    if (!out.includes(addr)) out.push(addr);
  }
  return out;
}

/** 127.0.0.11, with or without a port: never an upstream, whatever namespace it would be sent from. */
export function isEmbeddedAddress(addr: string): boolean {
  return addr === EMBEDDED_DNS_ADDRESS || addr.startsWith(`${EMBEDDED_DNS_ADDRESS}:`);
}

export interface Upstream {
  host: string;
  port: number;
  /** 4 or 6: the socket family to send from. */
  family: 4 | 6;
}

/**
 * `1.1.1.1`, `1.1.1.1:5353`, `2001:db8::1` or `[2001:db8::1]:5353` to an upstream; undefined for
 * anything else and for the embedded resolver itself. Ports other than 53 are for tests and labs.
 */
export function parseUpstream(addr: string): Upstream | undefined {
  if (isEmbeddedAddress(addr)) return undefined;
  const v4 = /^([\d.]+)(?::(\d{1,5}))?$/.exec(addr);
  if (v4 && isIPv4(v4[1]!)) return withPort(v4[1]!, v4[2], 4);
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(addr);
  if (bracketed && isIPv6(bracketed[1]!)) return withPort(bracketed[1]!, bracketed[2], 6);
  if (isIPv6(addr)) return withPort(addr, undefined, 6);
  return undefined;
}

function withPort(host: string, port: string | undefined, family: 4 | 6): Upstream | undefined {
  const n = port === undefined ? 53 : Number(port);
  return n >= 1 && n <= 65535 ? { host, port: n, family } : undefined;
}
