// Names and addresses of a lab, as pure functions: everything a lab creates is derivable from its
// name and its subnet index, which is what lets `lab down` clean up exactly, even after a crash.
//
// A lab named L with subnet index k owns:
//   network namespaces  L-switch, L-node1 ... L-nodeN   (and any the daemons make: L-n1-..., L-n2-...)
//   in the machine's own namespace one veth, L-host, with 198.(18 + k div 256).(k mod 256).254/24
//   hosts at .11, .12, ... of that /24 (198.18.0.0/15 is the benchmarking range, never routed)
//   with registries (`lab up --registry`): namespace L-reg at .250, holding the lab's registry servers
//   files under <labRoot>/L/
import { UserError } from '../../lib/errors.js';

const LAB_NAME_PATTERN = /^[a-z][a-z0-9]{0,7}$/;
const MAX_LAB_NODES = 200; // .11 ... .210 stay inside the /24, below the machine's .254
export const SUBNET_COUNT = 512; // /24s in 198.18.0.0/15

export function validateLabName(name: string): string {
  if (!LAB_NAME_PATTERN.test(name)) {
    throw new UserError(
      `invalid lab name '${name}': use 1-8 lowercase letters and digits, starting with a letter ` +
        `(it prefixes namespace and interface names, which the kernel caps at 15 bytes)`,
    );
  }
  return name;
}

export function validateNodeCount(n: number, flag = '--nodes'): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_LAB_NODES) {
    throw new UserError(`${flag} must be a whole number from 1 to ${MAX_LAB_NODES}, got '${n}'`);
  }
  return n;
}

/** The /24 with index k of 198.18.0.0/15, as its first three octets. */
export function subnetBase(k: number): string {
  if (!Number.isInteger(k) || k < 0 || k >= SUBNET_COUNT)
    throw new RangeError(`lab subnet index ${k} out of range`);
  return `198.${18 + Math.floor(k / 256)}.${k % 256}`;
}

export function hostName(i: number): string {
  return `node${i}`;
}

/** Parses 'node3' → 3; anything else is a user error naming the lab's hosts. */
export function parseHostName(name: string, nodeCount: number): number {
  const m = /^node([1-9][0-9]*)$/.exec(name);
  const i = m ? Number(m[1]) : NaN;
  if (!m || i > nodeCount) {
    throw new UserError(`no host '${name}' in this lab: its hosts are node1 ... node${nodeCount}`);
  }
  return i;
}

export interface LabHostNames {
  index: number;
  hostname: string;
  netns: string;
  /** The host's underlay address. */
  address: string;
  /** The veth end in the switch namespace (the host's end is eth0 in its own namespace). */
  switchPort: string;
  /** The daemon's --netns-prefix: what it names its own namespaces, interfaces and tables with. */
  prefix: string;
}

export function labNames(lab: string, k: number) {
  const base = subnetBase(k);
  return {
    switchNetns: `${lab}-switch`,
    bridge: 'br0',
    hostVeth: `${lab}-host`,
    hostVethPeer: 'machine',
    machineAddress: `${base}.254`,
    subnet: `${base}.0/24`,
    netnsPrefix: `${lab}-`,
    /** The namespace the lab's registries listen in (above the hosts' .11 ... .210, below the machine). */
    registry: { netns: `${lab}-reg`, switchPort: 'registry', address: `${base}.250` },
    host(i: number): LabHostNames {
      return {
        index: i,
        hostname: hostName(i),
        netns: `${lab}-${hostName(i)}`,
        address: `${base}.${10 + i}`,
        switchPort: `port${i}`,
        prefix: `${lab}-n${i}`,
      };
    },
  };
}
