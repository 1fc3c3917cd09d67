// Overlay networks on a 3-host lab: tasks on different hosts reach each other over their network
// (ICMP and TCP), the underlay carries VXLAN on 4789 with the network's VNI, networks are isolated from
// each other, and a removed task's or a departed node's neighbor entries leave every other node fast.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import type { LabHostState } from '../../deploy/lab/state.js';
import { run } from '../../lib/exec.js';
import { labSignal, labStart } from '../../deploy/lab/lab.js';
import type { Network } from '../../api/objects/index.js';
import { createTestLab, ipOn, isRoot, psJson, runIn, running, swl, waitFor } from './harness.js';

/** One ping from inside a task (through `swarmlite exec` on `via`). */
const pingFrom = (via: LabHostState, task: string, ip: string, waitS = 2) =>
  runIn(via, ['swarmlite', 'exec', task, '--', 'ping', '-c', '1', '-W', String(waitS), ip]);

/** The neighbor entries (IPs) a host programmed for a network's remote peers. */
async function neighbors(h: LabHostState, vni: number): Promise<string[]> {
  const out = await run('ip', [
    'netns',
    'exec',
    `${h.prefix}_ov-${vni}`,
    'ip',
    'neigh',
    'show',
    'dev',
    'vxlan0',
  ]).catch(() => '');
  return out
    .split('\n')
    .map((l: string) => l.split(' ')[0]!)
    .filter(Boolean);
}

test('overlay networks on a 3-host lab', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = await createTestLab(t, 3, 1);
  const [n1, n2] = lab.hosts as [LabHostState, LabHostState, LabHostState];
  const network = async (name: string) => {
    await swl(n1, ['network', 'create', '-d', 'overlay', name]);
    return waitFor(`${name} allocated`, 60_000, async () => {
      const [n] = JSON.parse((await swl(n1, ['network', 'inspect', name])).stdout) as Network[];
      return n && n.vni > 0 ? n : undefined;
    });
  };
  const appnet = await network('appnet');
  const othernet = await network('othernet');
  const whoami = ['host', 'swarmlite', 'whoami', '--port', '80'];
  await swl(n1, ['service', 'create', '--name', 'web', '--replicas', '3', '--network', 'appnet', ...whoami]);
  await swl(n1, ['service', 'create', '--name', 'other', '--network', 'othernet', ...whoami]);
  await swl(n1, [
    'service',
    'create',
    '--name',
    'both',
    '--network',
    'appnet',
    '--network',
    'othernet',
    ...whoami,
  ]);
  const web = running(await psJson(n1, 'web'));
  assert.equal(new Set(web.map((x) => x.nodeId)).size, 3, 'one web task per host');

  // Docker's worker lists, from its own assignments, ingress and the overlays its tasks are on (one
  // web task on each host: appnet on both workers), scope swarm.
  await t.test('network ls on the workers: ingress and appnet, scope swarm', async () => {
    for (const h of lab.hosts.slice(1)) {
      const rows = await waitFor(`${h.hostname} lists appnet`, 60_000, async () => {
        const out = (await swl(h, ['network', 'ls'])).stdout.trim().split('\n').slice(1);
        const r = out.map((l) => l.trim().split(/\s+/).slice(1).join(' '));
        return r.includes('appnet overlay swarm') ? r : undefined;
      });
      assert.ok(rows.includes('ingress overlay swarm'), `${h.hostname}: ${rows.join(', ')}`);
      const swarmRows = rows.filter((r) => r.endsWith(' swarm'));
      assert.ok(
        swarmRows.every((r) => /^(appnet|othernet|ingress) overlay swarm$/.test(r)),
        `${h.hostname}: ${rows.join(', ')}`,
      );
    }
  });

  await t.test('every task reaches every other over appnet (ping and TCP), across hosts', async () => {
    for (const from of web) {
      for (const to of web) {
        if (from.id === to.id) continue;
        const ip = ipOn(to, appnet.id)!;
        const ping = await pingFrom(n1, `web.${from.slot}`, ip);
        assert.equal(ping.code, 0, `web.${from.slot} → ${ip}: ${ping.stdout}${ping.stderr}`);
        const http = await swl(n2, [
          'exec',
          `web.${from.slot}`,
          '--',
          'curl',
          '-s',
          '--max-time',
          '3',
          `http://${ip}/`,
        ]);
        assert.match(http.stdout, new RegExp(`Name: web\\.${to.slot}\\.`));
      }
    }
  });

  await t.test('network inspect shows local endpoints and peers; --verbose what was programmed', async () => {
    const [view] = JSON.parse((await swl(n1, ['network', 'inspect', '-v', 'appnet'])).stdout) as {
      containers: Record<string, { ipv4Address: string }>;
      peers: { ip: string }[];
      programmed: { sandbox: string; neighbors: string; fdb: string };
    }[];
    const [node1] = JSON.parse((await swl(n1, ['node', 'inspect', 'node1'])).stdout) as { id: string }[];
    const local = running(await psJson(n1, 'web')).filter((x) => x.nodeId === node1!.id);
    for (const x of local)
      assert.equal(
        view!.containers[x.id]?.ipv4Address,
        x.networks.find((a) => a.networkId === appnet.id)!.addresses[0],
      );
    assert.ok(
      view!.peers.some((p) => p.ip === n2.address),
      'node2 is a peer on appnet',
    );
    assert.equal(view!.programmed.sandbox, `${n1.prefix}_ov-${appnet.vni}`);
    for (const x of web.filter((w) => w.nodeId !== node1!.id)) {
      const ip = ipOn(x, appnet.id)!;
      assert.match(view!.programmed.neighbors, new RegExp(`^${ip.replace(/\./g, '\\.')} lladdr`, 'm'));
    }
    assert.match(view!.programmed.fdb, new RegExp(`dst ${n2.address.replace(/\./g, '\\.')}`));
  });

  await t.test("the underlay carries VXLAN on 4789 with appnet's VNI", async () => {
    const sw = `${lab.name}-switch`;
    const dump = spawn(
      'ip',
      ['netns', 'exec', sw, 'tcpdump', '-i', 'br0', '-nn', '-c', '4', '-l', 'udp port 4789'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    dump.stdout.on('data', (d: Buffer) => (out += d));
    const done = new Promise<void>((r) => dump.on('close', () => r()));
    t.after(() => dump.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 500)); // tcpdump is listening
    const target = ipOn(
      web.find((x) => x.nodeId !== web[0]!.nodeId)!,
      appnet.id,
    )!;
    await runIn(n1, [
      'swarmlite',
      'exec',
      `web.${web[0]!.slot}`,
      '--',
      'ping',
      '-c',
      '4',
      '-i',
      '0.2',
      target,
    ]);
    await Promise.race([done, new Promise((r) => setTimeout(r, 5_000))]);
    dump.kill('SIGKILL');
    assert.match(out, new RegExp(`VXLAN.*vni ${appnet.vni}`), out);
  });

  await t.test('networks are isolated; a task on both reaches both', async () => {
    const [other] = running(await psJson(n1, 'other'));
    const [both] = running(await psJson(n1, 'both'));
    const webIp = ipOn(web[0]!, appnet.id)!;
    const otherIp = ipOn(other!, othernet.id)!;
    const blocked = await pingFrom(n1, 'other.1', webIp, 1);
    assert.notEqual(blocked.code, 0, 'othernet cannot reach appnet');
    const toWeb = await pingFrom(n1, 'both.1', webIp);
    const toOther = await pingFrom(n1, 'both.1', otherIp, 2);
    assert.equal(toWeb.code, 0, `both → appnet: ${toWeb.stdout}`);
    assert.equal(toOther.code, 0, `both → othernet: ${toOther.stdout}`);
    assert.equal(both!.networks.length, 2);
  });

  await t.test(
    'a restarted daemon converges its sandbox: no duplicate, no stale entry, traffic flows',
    async () => {
      const [node2] = JSON.parse((await swl(n1, ['node', 'inspect', 'node2'])).stdout) as { id: string }[];
      // node2 keeps a task on appnet whatever the restart takes: on a loaded machine it can outlast the
      // heartbeat grace, node2's web task then moves away, and with no local task left on appnet node2
      // rightly has no sandbox at all (what failed here before: "node2 holds []"). A task pinned to
      // node2 cannot move; it runs there again once node2 is back.
      const pin = ['--constraint', `node.hostname==${n2.hostname}`];
      await swl(n1, ['service', 'create', '--name', 'pinned', '--network', 'appnet', ...pin, ...whoami]);
      await waitFor('the pinned task running on node2', 60_000, async () =>
        running(await psJson(n1, 'pinned')).some((x) => x.nodeId === node2!.id) ? true : undefined,
      );
      await labSignal(lab.name, n2.hostname, 'SIGKILL');
      await labStart(lab.name, n2.hostname);
      await waitFor('node2 ready again', 60_000, async () => {
        const [n] = JSON.parse((await swl(n1, ['node', 'inspect', 'node2'])).stdout) as {
          status: { state: string };
        }[];
        return n!.status.state === 'ready' ? true : undefined;
      });
      // What node2 must hold: every task on appnet running elsewhere now. (On a loaded machine the
      // restart can outlast the heartbeat grace, and node2's tasks are then moved: the set is read
      // again each time, and the move is reported.)
      const remoteNow = async () => {
        const ts = running([...(await psJson(n1, 'web')), ...(await psJson(n1, 'both'))]);
        return ts.filter((x) => x.nodeId !== node2!.id).map((x) => ipOn(x, appnet.id)!);
      };
      const webNow = running(await psJson(n1, 'web'));
      const moved = web.filter((x) => x.nodeId === node2!.id && !webNow.some((y) => y.id === x.id));
      if (moved.length > 0)
        t.diagnostic(`node2 was declared down during its restart: ${moved.length} task(s) moved`);
      let remoteIps: string[] = [];
      let held: string[] = [];
      const entries = await waitFor("node2's sandbox has exactly the remote peers", 60_000, async () => {
        remoteIps = await remoteNow();
        held = await neighbors(n2, appnet.vni);
        return held.length === remoteIps.length && remoteIps.every((ip) => held.includes(ip))
          ? held
          : undefined;
      }).catch((err: Error) => {
        throw new Error(
          `${err.message}: node2 holds [${held.join(' ')}], the peers are [${remoteIps.join(' ')}]`,
        );
      });
      assert.equal(new Set(entries).size, entries.length, 'no duplicate entry');
      const local = running(await psJson(n1, 'web')).find((x) => x.nodeId === node2!.id) ?? web[0]!;
      for (const ip of remoteIps) {
        const ping = await pingFrom(n1, `web.${local.slot}`, ip);
        assert.equal(ping.code, 0, `after the restart: web.${local.slot} → ${ip}`);
      }
    },
  );

  await t.test(
    "a removed task's and a departed node's entries leave every other node promptly (bench:overlay times it)",
    async () => {
      const hostOf = async (nodeId: string) => {
        for (const h of lab.hosts) {
          const [node] = JSON.parse((await swl(n1, ['node', 'inspect', h.hostname])).stdout) as {
            id: string;
          }[];
          if (node!.id === nodeId) return h;
        }
        throw new Error(`no host for ${nodeId}`);
      };
      // Scale 3 → 2: one task goes and its IP must vanish from the other hosts' sandboxes. Which one
      // is the orchestrator's choice (a task on the node holding the most, then the highest slot, as
      // SwarmKit does), so not always slot 3: after node2's restart outlasted the heartbeat grace on
      // a loaded machine, a moved task left node1 with two, and a stressed CI run waited for slot 3.
      const before = running(await psJson(n1, 'web'));
      const hostsOf = new Map<string, LabHostState>();
      for (const x of before) {
        const h = await hostOf(x.nodeId);
        hostsOf.set(x.id, h);
        for (const other of lab.hosts.filter((o) => o !== h))
          assert.ok(
            (await neighbors(other, appnet.vni)).includes(ipOn(x, appnet.id)!),
            `${other.hostname} knows ${x.id}`,
          );
      }
      await swl(n1, ['service', 'scale', '-d', 'web=2']);
      const gone = await waitFor('a web task reported stopped', 60_000, async () => {
        const now = await psJson(n1, 'web');
        const seen = before.map((b) => now.find((x) => x.id === b.id));
        const stopped = seen.find((x) => x?.status.state === 'shutdown');
        if (stopped) return stopped;
        // Not yet: each look says where every task is, so a timeout reports their last states.
        throw new Error(
          seen
            .map((x, i) =>
              x
                ? `slot ${x.slot} on ${hostsOf.get(x.id)!.hostname}: ${x.status.state}, desired ${x.desiredState}, "${x.status.message}"${x.status.err ? ` (${x.status.err})` : ''}`
                : `${before[i]!.id} no longer listed`,
            )
            .join('; '),
        );
      });
      const goneIp = ipOn(gone, appnet.id)!;
      const goneHost = hostsOf.get(gone.id)!;
      const watchers = lab.hosts.filter((h) => h !== goneHost);
      const stoppedAt = Date.now();
      await waitFor(`${goneIp} gone from every other host`, 60_000, async () => {
        for (const h of watchers) if ((await neighbors(h, appnet.vni)).includes(goneIp)) return undefined;
        return true;
      });
      const taskMs = Date.now() - stoppedAt;
      t.diagnostic(`removed task's entries gone ${taskMs} ms after it stopped`);
      // ~100 ms on an idle machine (bench:overlay prints it); the bound allows for a loaded one.
      assert.ok(taskMs < 30_000, `task entries gone in ${taskMs} ms`);

      // A worker with a web task leaves: every entry it announced goes from the other hosts.
      let leaver: LabHostState | undefined;
      const leaverIps: string[] = [];
      for (const x of running(await psJson(n1, 'web'))) {
        const h = await hostOf(x.nodeId);
        if (h === n1 || (leaver && h !== leaver)) continue;
        leaver = h;
        leaverIps.push(ipOn(x, appnet.id)!);
      }
      assert.ok(leaver, 'a worker runs a web task');
      const stay = lab.hosts.filter((h) => h !== leaver);
      const leftAt = Date.now();
      await swl(leaver, ['leave']);
      await waitFor(`${leaver.hostname}'s entries gone from the others`, 60_000, async () => {
        for (const h of stay) {
          const n = await neighbors(h, appnet.vni);
          if (leaverIps.some((ip) => n.includes(ip))) return undefined;
        }
        return true;
      });
      const nodeMs = Date.now() - leftAt;
      t.diagnostic(`departed node's entries gone ${nodeMs} ms after leave`);
      assert.ok(nodeMs < 45_000, `node entries gone in ${nodeMs} ms (leave itself included)`);
    },
  );
});
