// How containers are shown, as Docker shows them: `ps`'s table and its STATUS words ("Up 5 seconds",
// "Exited (0) 3 minutes ago"), `inspect`'s JSON in Docker's shape, and the small Go-template subset of
// `inspect -f` / `ps --format`. Pure, so every form is a table test.
import type { Container__Output } from '../api/gen/swarmlite/local/v1/Container.js';
import type { ContainerNetworkSettings__Output } from '../api/gen/swarmlite/local/v1/ContainerNetworkSettings.js';
import type { ContainerPort__Output } from '../api/gen/swarmlite/local/v1/ContainerPort.js';
import { UserError } from '../lib/errors.js';

/** Docker's HumanDuration (github.com/docker/go-units), in our own words of the same shape. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months`;
  return `${Math.round(h / 24 / 365)} years`;
}

const since = (iso: string, now: number) => humanDuration(Math.max(0, now - Date.parse(iso)));

/** `ps`'s STATUS column. */
export function statusText(c: Container__Output, now: number): string {
  const s = c.state!;
  switch (s.status) {
    case 'running':
      return `Up ${since(s.startedAt, now)}`;
    case 'restarting':
      return `Restarting (${s.exitCode}) ${since(s.finishedAt, now)} ago`;
    case 'exited':
      return `Exited (${s.exitCode}) ${since(s.finishedAt || c.created, now)} ago`;
    case 'removing':
      return 'Removal In Progress';
    default:
      return 'Created';
  }
}

/** `ps`'s COMMAND: what is known of the command line, quoted and cut as Docker cuts it. */
export function commandText(c: Container__Output, noTrunc: boolean): string {
  const cfg = c.config!;
  const words = [...(cfg.entrypointSet ? cfg.entrypoint : []), ...cfg.cmd].join(' ');
  const cut = !noTrunc && words.length > 20 ? `${words.slice(0, 19)}…` : words;
  return `"${cut}"`;
}

export function psRows(containers: Container__Output[], now: number, noTrunc: boolean): string[][] {
  return containers.map((c) => [
    noTrunc ? c.id : c.id.slice(0, 12),
    c.config!.image,
    commandText(c, noTrunc),
    `${since(c.created, now)} ago`,
    statusText(c, now),
    portsText(c),
    c.name,
  ]);
}

/** `ps`'s PORTS: `0.0.0.0:8080->80/tcp, ...` while the container runs, as Docker shows them. */
export function portsText(c: Container__Output): string {
  if (c.state?.status !== 'running') return '';
  return (c.networkSettings?.ports ?? [])
    .map((p) => `${p.hostIp || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`)
    .join(', ');
}

export const PS_HEADERS = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'];

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** `inspect`'s object, in Docker's field names (the fields this node has). */
export function inspectObject(c: Container__Output): Record<string, unknown> {
  const s = c.state!;
  const h = c.hostConfig!;
  const cfg = c.config!;
  const [policy, retries] = h.restartPolicy.split(':');
  return {
    Id: c.id,
    Created: c.created,
    State: {
      Status: s.status === 'removing' ? 'removing' : s.status,
      Running: s.status === 'running' || s.status === 'restarting',
      Paused: false,
      Restarting: s.status === 'restarting',
      OOMKilled: s.oomKilled,
      Dead: false,
      Pid: s.pid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt || ZERO_TIME,
      FinishedAt: s.finishedAt || ZERO_TIME,
    },
    Image: cfg.image,
    Name: `/${c.name}`,
    RestartCount: s.restartCount,
    HostConfig: {
      NetworkMode: h.networkMode,
      RestartPolicy: { Name: policy, MaximumRetryCount: Number(retries ?? 0) },
      AutoRemove: h.autoRemove,
      Memory: h.memoryBytes,
      NanoCpus: h.nanoCpus,
      PortBindings: portMap(h.portBindings),
      PublishAllPorts: h.publishAllPorts,
      Dns: h.dns ?? [],
    },
    Config: {
      Hostname: cfg.hostname,
      User: cfg.user,
      Env: cfg.env,
      Cmd: cfg.cmd.length ? cfg.cmd : null,
      Image: cfg.image,
      WorkingDir: cfg.workdir,
      Entrypoint: cfg.entrypointSet ? cfg.entrypoint : null,
    },
    NetworkSettings: networkSettings(c),
  };
}

/** Docker's port map: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}` ('' for any port). */
function portMap(ports: ContainerPort__Output[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports) {
    (out[`${p.containerPort}/${p.protocol}`] ??= []).push({
      HostIp: p.hostIp || '0.0.0.0',
      HostPort: p.hostPort ? String(p.hostPort) : '',
    });
  }
  return out;
}

/**
 * Docker's NetworkSettings: each of the container's networks under its name (in connect order), the
 * published ports by container port; the top-level address fields only for the default `bridge` (as
 * Docker keeps them).
 */
function networkSettings(c: Container__Output) {
  const legs = c.networks.length > 0 ? c.networks : c.networkSettings ? [c.networkSettings] : [];
  const legOf = (n: ContainerNetworkSettings__Output | undefined) => {
    const [ip = '', prefix = '0'] = (n?.ipAddress ?? '').split('/');
    return {
      NetworkID: n?.networkId ?? '',
      IPAddress: ip,
      IPPrefixLen: Number(prefix),
      Gateway: n?.gateway ?? '',
      MacAddress: n?.macAddress ?? '',
      Aliases: n?.aliases.length ? n.aliases : null,
    };
  };
  const networks = Object.fromEntries(legs.map((n) => [n.networkName, legOf(n)]));
  // Never attached (a node without local networks): the network it was created with, empty.
  if (legs.length === 0) networks[c.hostConfig?.networkMode ?? ''] = legOf(undefined);
  const onDefault = legs.find((n) => n.networkName === 'bridge');
  const top = legOf(onDefault);
  return {
    Ports: portMap(c.networkSettings?.ports ?? []),
    IPAddress: onDefault ? top.IPAddress : '',
    IPPrefixLen: onDefault ? top.IPPrefixLen : 0,
    Gateway: onDefault ? top.Gateway : '',
    MacAddress: onDefault ? top.MacAddress : '',
    Networks: networks,
  };
}

const ACTION = /\{\{\s*(.*?)\s*\}\}/g;
const PATH = /^\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?$/;

/**
 * The Go-template subset `inspect -f` and `ps --format` take: text with actions `{{.Field.Sub}}`
 * (a path into the object; `{{.}}` the whole), and `{{json .Path}}`. A value that is an object prints
 * as JSON; a missing field as Go's `<no value>`. Anything else inside `{{ }}` is refused, so a
 * template this subset cannot run says so instead of printing something else.
 */
export function renderTemplate(template: string, value: unknown): string {
  checkTemplate(template);
  return template.replace(ACTION, (_all, inner: string) => {
    const json = inner.startsWith('json ');
    const path = json ? inner.slice(5).trim() : inner;
    const v = lookup(value, path);
    if (json) return JSON.stringify(v ?? null);
    if (v === undefined) return '<no value>';
    if (v === null) return '<nil>';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}

export function checkTemplate(template: string): void {
  const opens = template.split('{{').length - 1;
  const actions = [...template.matchAll(ACTION)];
  if (actions.length !== opens || template.split('}}').length - 1 !== opens)
    throw new UserError(`template parsing error: unbalanced braces in '${template}'`, 2);
  for (const [, inner] of actions) {
    const path = inner!.startsWith('json ') ? inner!.slice(5).trim() : inner!;
    if (!PATH.test(path))
      throw new UserError(
        `template: unsupported action '{{${inner}}}': this swarmlite takes {{.Field.Path}} and {{json .Field}}`,
        2,
      );
  }
}

function lookup(value: unknown, path: string): unknown {
  if (path === '.') return value;
  let v: unknown = value;
  for (const key of path.slice(1).split('.')) {
    if (typeof v !== 'object' || v === null || !(key in v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}
