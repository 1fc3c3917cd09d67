// A task's DNS settings (`--dns`, `--dns-search`, `--dns-option`) and the embedded resolver's address:
// what the control API refuses at create/update and the worker re-checks before it writes a task's
// resolv.conf, so both sides read the spec the same way.
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
