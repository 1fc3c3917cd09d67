// Choosing the address a node advertises: the flag, else the daemon's --advertise-addr, else the one
// non-loopback IPv4 address this host has. Several candidates and no flag is an error (as in Docker):
// guessing the wrong interface would make a cluster that half works.
import { networkInterfaces } from 'node:os';
import { UserError } from '../lib/errors.js';

export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

export function chooseAdvertiseIp(flag: string, daemonDefault: string): string {
  if (flag) return splitHostPort(flag.includes(':') ? flag : `${flag}:0`).host;
  if (daemonDefault) return daemonDefault;
  const candidates = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
  if (candidates.length === 1) return candidates[0]!;
  throw new UserError(
    candidates.length === 0
      ? 'could not find an address to advertise: use --advertise-addr'
      : `could not choose an IP address to advertise since this system has several (${candidates.join(', ')}): use --advertise-addr`,
  );
}
