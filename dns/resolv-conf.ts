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
