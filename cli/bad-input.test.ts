// Issue 18's bad-input suite for the CLI: every verb with malformed arguments, against a live daemon.
// Each case must exit 2 (usage: refused before the daemon is asked) or 1 (the daemon refused), say
// why on stderr in one clear line (usage errors may add the command's usage after it), print nothing
// on stdout, never a stack trace, and change nothing: the daemon's `info` and its data root are
// compared as JSON before and after the whole table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { daemonClient, localCalls, localInfo } from '../daemon/client.js';
import { swarmliteBin } from '../lib/repo.js';
import { startTestDaemon } from './test-daemon.js';

const MAIN = swarmliteBin();

function cli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** [args, exit code, what the first line of stderr says] */
const CASES: [string[], 1 | 2, RegExp][] = [
  // Usage errors: refused by the CLI itself.
  [['frobnicate'], 2, /unknown command 'frobnicate'/],
  [['info', '--format', 'yaml'], 2, /unknown --format 'yaml'/],
  [['service', 'create'], 2, /missing required argument|image is required/],
  [['service', 'create', '--replicas', 'abc', 'host', 'true'], 2, /--replicas/],
  [['service', 'create', '--replicas', '-1', 'host', 'true'], 2, /--replicas|unknown option/],
  [
    ['service', 'create', '--replicas', '99999999999999999999', 'host', 'true'],
    2,
    /invalid --replicas '99999999999999999999': the number is too large/,
  ],
  [['service', 'create', '-p', '99999:80', 'host', 'true'], 2, /99999/],
  [['service', 'create', '--constraint', 'node.role=worker', 'host', 'true'], 2, /invalid --constraint/],
  [['service', 'create', '--limit-memory', 'lots', 'host', 'true'], 2, /--limit-memory/],
  [['service', 'create', '--restart-condition', 'always', 'host', 'true'], 2, /--restart-condition/],
  [['service', 'create', '--mode', 'weird', 'host', 'true'], 2, /--mode/],
  [['service', 'create', '--bogus', 'host', 'true'], 2, /unknown option '--bogus'/],
  [['service', 'create', '--cap-add', 'NET_WIZARD', 'host', 'true'], 2, /invalid --cap-add 'NET_WIZARD'/],
  [['service', 'create', '--mount', 'type=bind,target=/x', 'host', 'true'], 2, /invalid --mount .*absolute/],
  [['service', 'create', '--security-opt', 'apparmor=x', 'host', 'true'], 2, /invalid --security-opt/],
  [['service', 'create', '--stop-signal', 'SIGNOPE', 'host', 'true'], 2, /invalid --stop-signal 'SIGNOPE'/],
  [
    ['service', 'update', '--mount-add', 'type=tmpfs', 'web'],
    2,
    /--mount-add 'type=tmpfs': target= is required/,
  ],
  [['service', 'scale', 'web=abc'], 2, /web=abc|scale/],
  [['service', 'ls', '--format', 'yaml'], 2, /unknown --format 'yaml'/],
  [['network', 'create', '-d', 'bridge', '--attachable', 'n'], 2, /--attachable is for overlay networks/],
  [['network', 'create', '--opt', 'vxlanid_list=1', 'n'], 2, /unknown bridge option "vxlanid_list"/],
  [['network', 'create', '--subnet', '10.1.0.0/16', '--subnet', '10.2.0.0/16', 'n'], 2, /one --subnet/],
  [['network', 'create', '--subnet', '10.0.0.0/33', 'n'], 2, /--subnet/],
  [
    ['network', 'create', '-d', 'overlay', '--opt', 'vxlanid_list=1', 'n'],
    2,
    /unknown overlay option "vxlanid_list"/,
  ],
  [['network', 'create', '--opt', 'mtu=big', 'n'], 2, /mtu=big/],
  [['node', 'update', '--availability', 'sleepy', 'n1'], 2, /invalid --availability 'sleepy'/],
  [['node', 'update', '--role', 'king', 'n1'], 2, /invalid --role 'king'/],
  [['node', 'ls', '--consistency', 'stale'], 2, /invalid --consistency 'stale': use linearizable or local/],
  [['node', 'inspect', '--consistency', 'LOCAL', 'self'], 2, /invalid --consistency 'LOCAL'/],
  [['service', 'ls', '--consistency', ''], 2, /invalid --consistency ''/],
  [['service', 'ps', '--consistency', 'eventual', 'web'], 2, /invalid --consistency 'eventual'/],
  [['service', 'inspect', '--consistency', 'fast', 'web'], 2, /invalid --consistency 'fast'/],
  [['network', 'ls', '--consistency', 'x'], 2, /invalid --consistency 'x'/],
  [['network', 'inspect', '--consistency', 'x', 'n'], 2, /invalid --consistency 'x'/],
  [['init', '--default-addr-pool-mask-length', '40'], 2, /--default-addr-pool-mask-length must be 8..29/],
  [['init', '--dispatcher-heartbeat', '1h'], 2, /--dispatcher-heartbeat must be a duration/],
  [['init', '--max-replicas', '0'], 2, /--max-replicas must be a whole number/],
  [['init', '--max-tasks-per-node', 'many'], 2, /--max-tasks-per-node must be a whole number/],
  [['join'], 2, /required option '--token/],
  [['image', 'pull'], 2, /missing required argument 'reference'/],
  [['image', 'tag', 'busybox'], 2, /missing required argument 'target'/],
  [['image', 'save', '-o'], 2, /option '-o, --output <file>' argument missing/],
  [['image', 'prune', '--dangling'], 2, /unknown option '--dangling'/],
  [['login', 'localhost:5000'], 2, /Cannot perform an interactive login from a non TTY device/],
  [['login', '-u', 'u', '-p', 'p', '--password-stdin', 'localhost:5000'], 2, /mutually exclusive/],
  [['login', '--password-stdin', 'localhost:5000'], 2, /Must provide --username with --password-stdin/],
  // The daemon refuses it before starting (and so never takes the default socket).
  [
    ['daemon', '--insecure-registry', 'bad host'],
    1,
    /--insecure-registry must be host or host:port, got 'bad host'/,
  ],
  // Refusals: the daemon (not in a swarm here) says why, in the user's terms.
  [['service', 'ls'], 1, /not part of a swarm|not a swarm manager/],
  [['service', 'create', 'host', 'true'], 1, /not part of a swarm|not a swarm manager/],
  [['network', 'rm', 'nosuch'], 1, /network nosuch not found/],
  [['network', 'inspect', 'nosuch'], 1, /network nosuch not found/],
  [['network', 'connect', 'none'], 2, /missing required argument 'container'/],
  [['network', 'connect', '--ip', '10.1.2', 'n', 'c'], 2, /invalid --ip '10.1.2'/],
  [['network', 'connect', '--alias', '-a', 'n', 'c'], 2, /invalid --alias '-a'/],
  [['network', 'connect', 'none', 'nosuch'], 1, /No such container: nosuch/],
  [['run', '--dns', 'resolver.example', 'busybox'], 2, /resolver.example is not an ip address/],
  [['run', '--network-alias', 'a b', 'busybox'], 2, /invalid --network-alias 'a b'/],
  [
    ['run', '--network', 'none', '--network-alias', 'db', 'busybox'],
    1,
    /network-scoped alias is supported only for containers in user defined networks/,
  ],
  [['network', 'disconnect', 'none', 'nosuch'], 1, /No such container: nosuch/],
  [['node', 'ls'], 1, /not part of a swarm|not a swarm manager/],
  [['node', 'inspect', 'self'], 1, /not part of a swarm|not a swarm manager/],
  [['node', 'ls', '--consistency', 'local'], 1, /not part of a swarm|not a swarm manager/],
  [['join-token', 'worker'], 1, /not part of a swarm|not a swarm manager/],
  [['leave'], 1, /not part of a swarm/],
  // Image verbs act on the node's own store: no swarm needed, and an unknown name is refused.
  [['image', 'pull', 'Bad Ref'], 1, /invalid reference format: "Bad Ref": repository name must be lowercase/],
  [['image', 'push', 'busybox:nosuch'], 1, /An image does not exist locally with the tag: busybox/],
  [['image', 'inspect', 'nosuch'], 1, /No such image: nosuch/],
  [['image', 'rm', 'nosuch'], 1, /No such image: nosuch:latest/],
  [['rmi', 'sha256:0123'], 1, /No such image: sha256:0123/],
  [['image', 'tag', 'nosuch', 'other:1'], 1, /No such image: nosuch:latest/],
  [['image', 'tag', 'nosuch', 'BAD'], 1, /No such image|invalid reference format/],
  [
    ['image', 'load', '-i', '/nonexistent/image.tar'],
    1,
    /cannot read \/nonexistent\/image.tar: no such file/,
  ],
  [['image', 'load', '-i', '/'], 1, /\/ is not a file/],
  [['image', 'ls', 'Bad:Ref:x'], 1, /invalid reference format/],
  [['logout', 'http://'], 1, /invalid registry "http:\/\/"/],
];

/** The data root as JSON: every path with its size (a refused command writes nothing there). */
function tree(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      // The daemon's own log grows with its request logging; it is not state.
      else if (!name.endsWith('.log')) out[p.slice(dir.length)] = s.size;
    }
  };
  walk(dir);
  return out;
}

test('every CLI verb with malformed arguments: exit 2 or 1, one clear line, nothing changed', async (t) => {
  const { dir, socket } = await startTestDaemon(t, 'badinput');
  const client = daemonClient(`unix://${socket}`);
  const state = async () =>
    JSON.stringify({ info: await localInfo(client, 5_000), data: tree(join(dir, 'data')) });
  const before = await state();
  const env = { SWARMLITE_HOST: `unix://${socket}` };
  const results: { args: string[]; code: number | null; stdout: string; stderr: string }[] = [];
  // A few at a time: each is a Node process, and this machine is shared.
  for (let i = 0; i < CASES.length; i += 4) {
    const batch = CASES.slice(i, i + 4);
    results.push(...(await Promise.all(batch.map(async ([args]) => ({ args, ...(await cli(args, env)) })))));
  }
  const failures: string[] = [];
  CASES.forEach(([args, code, message], i) => {
    const r = results[i]!;
    const shown = `swarmlite ${args.join(' ')} → exit ${r.code}, stderr ${JSON.stringify(r.stderr.slice(0, 300))}`;
    const lines = r.stderr.trim().split('\n');
    if (r.code !== code) failures.push(`${shown}: expected exit ${code}`);
    else if (!message.test(lines[0] ?? '')) failures.push(`${shown}: first line does not match ${message}`);
    else if (r.stdout !== '') failures.push(`${shown}: printed on stdout`);
    else if (/^\s+at /m.test(r.stderr)) failures.push(`${shown}: a stack trace`);
    else if (code === 1 && lines.length !== 1) failures.push(`${shown}: more than one line`);
    else if (
      code === 2 &&
      lines
        .slice(1)
        .some(
          (l) => l !== '' && !/^(Usage:| {2}|Options:|Commands:|Arguments:|Run 'swarmlite .*--help')/.test(l),
        )
    )
      failures.push(`${shown}: more than the error and the usage`);
  });
  assert.deepEqual(failures, []);
  // The local API checks a read's consistency itself (other clients than this CLI), before anything.
  const calls = localCalls(client);
  for (const consistency of ['stale', 'Local']) {
    await assert.rejects(calls.listServices({ consistency }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /invalid consistency "\w+": use linearizable or local/);
      return true;
    });
  }
  assert.equal(await state(), before, 'a refused command changed the daemon or its data root');
  client.close();
});
