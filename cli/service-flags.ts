// Flag values of `service` and `network` commands, parsed as Docker parses them. Every bad value is a
// UserError with exit 2 (a usage error) naming the flag, so nothing reaches the daemon half-checked.
import { UserError } from '../lib/errors.js';
import { parseDuration } from '../lib/duration.js';
import { IDLE_TIMEOUT_MAX_SECONDS, isIdleTimeout, type PortConfig } from '../api/objects/index.js';
import { ConstraintError, parseConstraints } from '../api/constraints.js';

const usage = (message: string) => new UserError(message, 2);

/** Commander's accumulator for repeatable flags. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

function parsePortNumber(flag: string, spec: string, text: string): number {
  if (!/^\d+$/.test(text)) throw usage(`invalid ${flag} '${spec}': '${text}' is not a port number`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw usage(`invalid ${flag} '${spec}': port ${n} is out of range 1-65535`);
  return n;
}

function parseProtocol(flag: string, spec: string, text: string): PortConfig['protocol'] {
  const p = text.toLowerCase();
  if (p !== 'tcp' && p !== 'udp') throw usage(`invalid ${flag} '${spec}': protocol must be tcp or udp`);
  return p;
}

/**
 * `client-address=`: `masquerade` is the default because it works for every task as it is (replies
 * go back to whichever node masqueraded them) and is what Docker does; `preserve` shows the task the
 * client's address at the cost of policy routing in every task and replies pinned to the ingress
 * node (ingress/README.md).
 */
function parseClientAddress(flag: string, spec: string, text: string): boolean {
  if (text === 'preserve') return true;
  if (text === 'masquerade') return false;
  throw usage(`invalid ${flag} '${spec}': client-address must be preserve or masquerade`);
}

/** `idle-timeout=`: a Go duration of whole seconds, 1s to 24 days (the kernel's conntrack limit). */
function parseIdleTimeout(flag: string, spec: string, text: string): number {
  const ms = parseDuration(text);
  const seconds = ms === undefined ? NaN : ms / 1000;
  if (!isIdleTimeout(seconds))
    throw usage(
      `invalid ${flag} '${spec}': idle-timeout must be whole seconds from 1s to ${IDLE_TIMEOUT_MAX_SECONDS / 3600}h (24 days), like 900s or 2h`,
    );
  return seconds;
}

/**
 * `-p/--publish`: short `[PUBLISHED:]TARGET[/PROTOCOL]` (`80` alone leaves the published port to the
 * allocator) or long `published=5000,target=80,protocol=udp,mode=host`, plus the routing mesh's
 * per-port `client-address=preserve|masquerade` and `idle-timeout=<duration>`.
 */
export function parsePublish(value: string, flag = '--publish'): PortConfig {
  const port: PortConfig = { protocol: 'tcp', targetPort: 0, publishedPort: 0, publishMode: 'ingress' };
  if (value.includes('=')) {
    for (const field of value.split(',')) {
      const i = field.indexOf('=');
      const key = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
      const v = i < 0 ? '' : field.slice(i + 1).trim();
      if (key === 'published') port.publishedPort = parsePortNumber(flag, value, v);
      else if (key === 'target') port.targetPort = parsePortNumber(flag, value, v);
      else if (key === 'protocol') port.protocol = parseProtocol(flag, value, v);
      else if (key === 'mode') {
        if (v !== 'ingress' && v !== 'host')
          throw usage(`invalid ${flag} '${value}': mode must be ingress or host`);
        port.publishMode = v;
      } else if (key === 'client-address') {
        if (parseClientAddress(flag, value, v)) port.preserveClientAddress = true;
        else delete port.preserveClientAddress;
      } else if (key === 'idle-timeout') port.idleTimeoutSeconds = parseIdleTimeout(flag, value, v);
      else throw usage(`invalid ${flag} '${value}': unknown field '${key}'`);
    }
    if (port.targetPort === 0) throw usage(`invalid ${flag} '${value}': target= is required`);
    // Checked after the loop so that the order of the keys does not matter.
    if (port.preserveClientAddress && port.publishMode === 'host')
      throw usage(
        `invalid ${flag} '${value}': client-address=preserve is for ingress mode; mode=host already shows tasks the client address`,
      );
    return port;
  }
  const m = /^(?:([^:/]*):)?([^:/]*)(?:\/(.*))?$/.exec(value);
  if (!m) throw usage(`invalid ${flag} '${value}': use [PUBLISHED:]TARGET[/PROTOCOL]`);
  if (m[1] !== undefined) port.publishedPort = parsePortNumber(flag, value, m[1]);
  port.targetPort = parsePortNumber(flag, value, m[2]!);
  if (m[3] !== undefined) port.protocol = parseProtocol(flag, value, m[3]);
  return port;
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Docker's RAM sizes: `512m`, `1g`, `100k`, `1.5GiB`, plain bytes; binary (1024) multiples. */
export function parseBytes(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (!m) throw usage(`invalid ${flag} '${value}': use a size like 512m, 1g, 100k or plain bytes`);
  return Math.floor(Number(m[1]) * BYTE_UNITS[m[2]!.toLowerCase()]!);
}

/** `--limit-cpu 0.5` → 500000000 nano-CPUs; more than nine decimals cannot be represented. */
export function parseCpus(flag: string, value: string): number {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(value.trim());
  if (!m) throw usage(`invalid ${flag} '${value}': use a decimal number of CPUs like 0.5 or 2`);
  return Number(m[1]) * 1e9 + Number((m[2] ?? '').padEnd(9, '0'));
}

/** Go-style durations as Docker takes them; a bare `0` is zero as in Go. */
export function parseDurationFlag(flag: string, value: string): number {
  if (value === '0') return 0;
  const ms = parseDuration(value);
  if (ms === undefined) throw usage(`invalid ${flag} '${value}': use a duration like 500ms, 10s or 1m30s`);
  return Math.round(ms);
}

/**
 * A whole number as typed. One past what a number holds exactly is refused with the digits the user
 * typed: Number() would round 99999999999999999999 to 100000000000000000000 and send (and echo) that.
 */
export function parseCount(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw usage(`invalid ${flag} '${value}': use a whole number`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw usage(`invalid ${flag} '${value}': the number is too large`);
  return n;
}

export function parseRatio(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw usage(`invalid ${flag} '${value}': use a number between 0 and 1`);
  return n;
}

export function parseChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value))
    throw usage(`invalid ${flag} '${value}': use ${choices.join(', ')}`);
  return value as T;
}

/** `-e KEY=VALUE`; `-e KEY` alone takes KEY's value from the CLI's environment, as Docker does. */
export function parseEnv(value: string, env: NodeJS.ProcessEnv = process.env): string {
  const i = value.indexOf('=');
  if (i === 0 || value === '') throw usage(`invalid --env '${value}': use KEY=VALUE or KEY`);
  if (i > 0) return value;
  const fromCli = env[value];
  return fromCli === undefined ? value : `${value}=${fromCli}`;
}

export const envKey = (entry: string) => {
  const i = entry.indexOf('=');
  return i < 0 ? entry : entry.slice(0, i);
};

/** `--label key=value` (or `key` alone, an empty value). */
export function parseLabel(flag: string, value: string): [string, string] {
  const i = value.indexOf('=');
  const key = i < 0 ? value : value.slice(0, i);
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(key)) throw usage(`invalid ${flag} '${value}': use key=value`);
  return [key, i < 0 ? '' : value.slice(i + 1)];
}

export function parseLabels(flag: string, values: string[] = []): Record<string, string> {
  return Object.fromEntries(values.map((v) => parseLabel(flag, v)));
}

/** Checked here with the scheduler's own parser so a typo is a usage error, not a pending task. */
export function checkConstraints(flag: string, values: string[]): string[] {
  const parsed = parseConstraints(values);
  if (parsed instanceof ConstraintError) throw usage(`invalid ${flag}: ${parsed.message}`);
  return values.map((v) => v.trim());
}

/** `--mode` and `--replicas` together: Docker refuses replicas on a global service. */
export function parseMode(
  mode: string | undefined,
  replicas: string | undefined,
): { replicated: { replicas: number }; global: null } | { replicated: null; global: Record<string, never> } {
  const m = parseChoice('--mode', mode ?? 'replicated', ['replicated', 'global'] as const);
  if (m === 'global') {
    if (replicas !== undefined) throw usage('--replicas can only be used with replicated mode');
    return { replicated: null, global: {} };
  }
  return {
    replicated: { replicas: replicas === undefined ? 1 : parseCount('--replicas', replicas) },
    global: null,
  };
}

/**
 * Splits `--args "sh -c 'echo hi'"` into words as a POSIX shell would (quotes and backslashes; no
 * expansion), which is what Docker's --args does.
 */
export function splitWords(flag: string, text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (quote) throw usage(`invalid ${flag} '${text}': unterminated ${quote} quote`);
  if (word !== undefined) words.push(word);
  return words;
}

/** `--network`: a name or id, with Docker's long form `name=NET,alias=A` reduced to what we keep. */
export function parseNetworkAttachment(flag: string, value: string): { target: string; aliases: string[] } {
  if (!value.includes('=')) {
    if (value.trim() === '') throw usage(`invalid ${flag}: a network name is required`);
    return { target: value.trim(), aliases: [] };
  }
  const att = { target: '', aliases: [] as string[] };
  for (const field of value.split(',')) {
    const [key, v = ''] = field.split('=', 2) as [string, string?];
    if (key === 'name' || key === 'target') att.target = v;
    else if (key === 'alias') att.aliases.push(v);
    else throw usage(`invalid ${flag} '${value}': unknown field '${key}'`);
  }
  if (!att.target) throw usage(`invalid ${flag} '${value}': name= is required`);
  return att;
}
