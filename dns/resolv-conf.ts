// The two resolv.conf files the embedded DNS deals with: the one every task gets (its only nameserver
// is the embedded resolver at 127.0.0.11), and the host's, whose nameservers are where the resolver
// forwards what it does not own. Pure text in, text out; the callers read and write the files.
import { EMBEDDED_DNS_ADDRESS, checkTaskDns, isEmbeddedAddress } from '../api/task-dns.js';

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

/** The `search` domains and `options` of a resolv.conf text (the last `search` line wins, as in libc). */
export function searchAndOptions(text: string): { search: string[]; options: string[] } {
  let search: string[] = [];
  const options: string[] = [];
  for (const raw of text.split('\n')) {
    const words = raw
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    if (words[0] === 'search' || words[0] === 'domain') search = words.slice(1);
    else if (words[0] === 'options') options.push(...words.slice(1));
  }
  return { search, options };
}

/**
 * A standalone container's resolv.conf on a user network: the embedded resolver, with the node's
 * search domains and options unless the container has its own (Docker copies the host's). Entries
 * of the node's file that would not pass checkTaskDns are left out rather than refused: the node's
 * file is not the user's input.
 */
export function embeddedResolvConf(hostText: string, own: { search: string[]; options: string[] }): string {
  const host = searchAndOptions(hostText);
  const usable = (dns: { search: string[]; options: string[] }) =>
    checkTaskDns({ nameservers: [], ...dns }) === undefined;
  const search =
    own.search.length > 0 ? own.search : host.search.filter((d) => usable({ search: [d], options: [] }));
  const options =
    own.options.length > 0 ? own.options : host.options.filter((o) => usable({ search: [], options: [o] }));
  return resolvConf({ search, options });
}

/** Docker's fallback when a container off the embedded DNS would be left without a nameserver. */
export const FALLBACK_NAMESERVERS: readonly string[] = ['8.8.8.8', '8.8.4.4'];

/**
 * A standalone container's resolv.conf off the embedded DNS (the default bridge, as Docker's, and
 * `none`): the node's file, its loopback nameservers dropped (they would be the container's own
 * loopback), `--dns` replacing its nameservers, Google's when none is left (as Docker does).
 */
export function hostResolvConf(hostText: string, nameservers: readonly string[]): string {
  const kept: string[] = [];
  for (const raw of hostText.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(raw);
    if (!m) {
      if (raw.trim() !== '') kept.push(raw);
      continue;
    }
    if (nameservers.length === 0 && !isLoopback(m[1]!)) kept.push(`nameserver ${m[1]!}`);
  }
  const servers =
    nameservers.length > 0
      ? nameservers
      : kept.some((l) => l.startsWith('nameserver'))
        ? []
        : FALLBACK_NAMESERVERS;
  return [...servers.map((s) => `nameserver ${s}`), ...kept].join('\n') + '\n';
}

const isLoopback = (addr: string) => addr.startsWith('127.') || addr === '::1';
