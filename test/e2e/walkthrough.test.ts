// The single-host networking walkthrough of a Docker course, step by step on a lab, each step asserted
// as Docker behaves: the predefined networks of a fresh node (and of swarm nodes), a user bridge whose
// containers find each other by name while the default bridge has no names, `network connect`, `-p`
// answering from another host, from the node and from a container on the same bridge (hairpin), `-P`
// and `port`, `--network host`, `--network none`, two user bridges isolated from each other, an
// `--internal` network with no way out; then macvlan on the lab's underlay across two hosts.
// The containers run a busybox image built here (busybox-static's /bin/busybox, EXPOSE 80).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { labNames } from '../../deploy/lab/names.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import { busyboxTestImage } from '../../cli/test-cli.js';
import { dockerSaveTar } from '../../worker/images/test-images.js';
import { createTestLab, isRoot, runIn, swl, waitFor, type CommandResult } from './harness.js';

const IMAGE = 'swlt/busybox:walk';
const APPLETS = ['sh', 'sleep', 'ping', 'httpd', 'wget', 'mkdir', 'echo', 'cat', 'timeout', 'hostname'];
/** busybox httpd in the foreground, serving a page that names the container. */
const serve = (port: number) => [
  'sh',
  '-c',
  `mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p ${port} -h /www`,
];

/** Loads the image (EXPOSE 80/tcp, for -P) into every given host's store. */
async function loadImage(t: TestContext, hosts: LabHostState[]): Promise<void> {
  const image = await busyboxTestImage(APPLETS, { ExposedPorts: { '80/tcp': {} } });
  const dir = mkdtempSync(join(tmpdir(), 'swlt-walk-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'image.tar');
  writeFileSync(file, await dockerSaveTar(image, [IMAGE]));
  for (const h of hosts) await swl(h, ['image', 'load', '-q', '-i', file]);
}

/** A command inside a container of the host; its exit code and output, whatever they are. */
const inCtr = (h: LabHostState, ctr: string, cmd: string[]): Promise<CommandResult> =>
  runIn(h, ['swarmlite', 'exec', ctr, '--', ...cmd]);

/** One ping, bounded by busybox timeout (a name lookup that nobody answers must not hang the test). */
const ping = (h: LabHostState, ctr: string, target: string) =>
  inCtr(h, ctr, ['timeout', '20', 'ping', '-c', '1', '-W', '3', target]);

/** busybox wget inside a container (bounded by timeout: Debian's busybox wget crashes on its own -T). */
const wgetIn = (h: LabHostState, ctr: string, url: string) =>
  inCtr(h, ctr, ['timeout', '10', 'wget', '-q', '-O', '-', url]);

/** curl run in a lab host's namespace: the page, or undefined when nothing answered. */
async function curlFrom(h: LabHostState, url: string): Promise<string | undefined> {
  const r = await runIn(h, ['curl', '-s', '-m', '5', url]);
  return r.code === 0 ? r.stdout : undefined;
}

const reaches = async (what: string, attempt: () => Promise<CommandResult>) =>
  waitFor(what, 60_000, async () => ((await attempt()).code === 0 ? true : undefined));

/** The page at `url`, polled until it names `ctrHostname` (the server may still be starting). */
const pageFrom = (what: string, fetch: () => Promise<string | undefined>, ctrHostname: RegExp) =>
  waitFor(what, 60_000, async () => {
    const page = await fetch();
    return page && ctrHostname.test(page) ? page : undefined;
  });

async function ipOf(h: LabHostState, ctr: string, network: string): Promise<string> {
  const out = await swl(h, ['inspect', '-f', `{{.NetworkSettings.Networks.${network}.IPAddress}}`, ctr]);
  const ip = out.stdout.trim();
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/, `${ctr}'s address on ${network}`);
  return ip;
}

/** The interfaces a container sees (from /proc/net/dev, so no `ip` applet is needed). */
async function interfacesOf(h: LabHostState, ctr: string): Promise<string[]> {
  const out = (await inCtr(h, ctr, ['cat', '/proc/net/dev'])).stdout;
  return out
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter((n) => n !== '')
    .sort();
}

/** `network ls`: NAME, DRIVER and SCOPE of each row. */
async function networkRows(h: LabHostState): Promise<string[]> {
  const out = (await swl(h, ['network', 'ls'])).stdout.trim().split('\n');
  assert.match(out[0]!, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
  return out.slice(1).map((l) => l.trim().split(/\s+/).slice(1).join(' '));
}

const sleeper = (h: LabHostState, name: string, network: string, extra: string[] = []) =>
  swl(h, ['run', '-d', '--name', name, '--network', network, ...extra, IMAGE, 'sleep', '1d']);

test(
  "a Docker course's single-host networking walkthrough, on a lab",
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const lab = await createTestLab(t, 3);
    const [n1, n2, n3] = lab.hosts as [LabHostState, LabHostState, LabHostState];
    await loadImage(t, [n1]);

    await t.test('1. a fresh node lists bridge, host and none', async () => {
      assert.deepEqual(await networkRows(n1), ['bridge bridge local', 'host host local', 'none null local']);
    });

    await t.test('2. a user bridge resolves names; the default bridge does not', async () => {
      await swl(n1, ['network', 'create', 'localnet']);
      assert.ok((await networkRows(n1)).includes('localnet bridge local'));
      await sleeper(n1, 'c1', 'localnet');
      await sleeper(n1, 'c2', 'localnet');
      await reaches('c2 pings c1 by name', () => ping(n1, 'c2', 'c1'));

      await sleeper(n1, 'b1', 'bridge');
      await sleeper(n1, 'b2', 'bridge');
      const b1 = await ipOf(n1, 'b1', 'bridge');
      assert.match(b1, /^172\.17\./);
      await reaches('b2 pings b1 by address', () => ping(n1, 'b2', b1));
      const byName = await ping(n1, 'b2', 'b1');
      assert.notEqual(byName.code, 0, `on the default bridge the name b1 must not resolve: ${byName.stdout}`);
      assert.match(byName.stderr + byName.stdout, /bad address 'b1'/);
    });

    await t.test('3. network connect bridge c3: a second interface, on the default bridge', async () => {
      await sleeper(n1, 'c3', 'localnet');
      assert.deepEqual(await interfacesOf(n1, 'c3'), ['eth0', 'lo']);
      await swl(n1, ['network', 'connect', 'bridge', 'c3']);
      assert.deepEqual(await interfacesOf(n1, 'c3'), ['eth0', 'eth1', 'lo']);
      assert.match(await ipOf(n1, 'c3', 'bridge'), /^172\.17\./);
      await reaches('c3 pings b1 on the default bridge', async () =>
        ping(n1, 'c3', await ipOf(n1, 'b1', 'bridge')),
      );
      await reaches('c3 still pings c1 by name', () => ping(n1, 'c3', 'c1'));
    });

    await t.test(
      '4. -p 8080:80 answers from another host, the node itself and a container (hairpin)',
      async () => {
        const id = (
          await swl(n1, ['run', '-d', '--name', 'web', '-p', '8080:80', IMAGE, ...serve(80)])
        ).stdout.trim();
        const web = new RegExp(`hello from ${id.slice(0, 12)}`);
        const url = `http://${n1.address}:8080/`;
        await pageFrom('port 8080 of node1 from node2', () => curlFrom(n2, url), web);
        await pageFrom('port 8080 of node1 from node1', () => curlFrom(n1, url), web);
        await pageFrom(
          "port 8080 of node1's address from b1, on web's bridge",
          async () => {
            const r = await wgetIn(n1, 'b1', url);
            return r.code === 0 ? r.stdout : undefined;
          },
          web,
        );
      },
    );

    await t.test('5. -P publishes the exposed port on a port `port` shows', async () => {
      const id = (await swl(n1, ['run', '-d', '--name', 'webp', '-P', IMAGE, ...serve(80)])).stdout.trim();
      const out = (await swl(n1, ['port', 'webp'])).stdout;
      const m = /^80\/tcp -> 0\.0\.0\.0:(\d+)$/m.exec(out);
      assert.ok(m, `port webp: ${out}`);
      const hostPort = Number(m[1]);
      assert.ok(hostPort >= 32768 && hostPort <= 60999, `an ephemeral port: ${hostPort}`);
      assert.equal(
        (await swl(n1, ['port', 'webp', '80/tcp'])).stdout.trim().split('\n')[0],
        `0.0.0.0:${hostPort}`,
      );
      await pageFrom(
        `port ${hostPort} of node1 from node2`,
        () => curlFrom(n2, `http://${n1.address}:${hostPort}/`),
        new RegExp(`hello from ${id.slice(0, 12)}`),
      );
    });

    await t.test("6. --network host listens on the node's own address", async () => {
      await swl(n1, ['run', '-d', '--name', 'webh', '--network', 'host', IMAGE, ...serve(8081)]);
      // On the host's network the container's hostname is the node's.
      await pageFrom(
        'port 8081 of node1 from node2',
        () => curlFrom(n2, `http://${n1.address}:8081/`),
        /hello from node1/,
      );
    });

    await t.test('7. --network none has only lo', async () => {
      const r = await swl(n1, ['run', '--rm', '--network', 'none', IMAGE, 'cat', '/proc/net/dev']);
      const names = r.stdout
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0]!.trim())
        .filter((n) => n !== '');
      assert.deepEqual(names, ['lo']);
    });

    await t.test('8. two user bridges cannot reach each other', async () => {
      await swl(n1, ['network', 'create', 'othernet']);
      await sleeper(n1, 'o1', 'othernet');
      const c1 = await ipOf(n1, 'c1', 'localnet');
      const o1 = await ipOf(n1, 'o1', 'othernet');
      // Each reaches its own gateway (so the pings below fail for the isolation, not for want of a network)...
      const gw = (
        await swl(n1, ['inspect', '-f', '{{.NetworkSettings.Networks.othernet.Gateway}}', 'o1'])
      ).stdout.trim();
      await reaches('o1 pings its gateway', () => ping(n1, 'o1', gw));
      // ...but not the other bridge's containers, either way.
      const there = await ping(n1, 'o1', c1);
      assert.notEqual(there.code, 0, `o1 (othernet) must not reach c1 (localnet) at ${c1}: ${there.stdout}`);
      const back = await ping(n1, 'c1', o1);
      assert.notEqual(back.code, 0, `c1 (localnet) must not reach o1 (othernet) at ${o1}: ${back.stdout}`);
      // And names do not cross networks.
      const name = await ping(n1, 'o1', 'c1');
      assert.notEqual(name.code, 0, 'c1 is not a name on othernet');
    });

    await t.test('9. an --internal network: its containers reach each other, nothing outside', async () => {
      await swl(n1, ['network', 'create', '--internal', 'intnet']);
      await sleeper(n1, 'i1', 'intnet');
      await sleeper(n1, 'i2', 'intnet');
      await reaches('i1 pings i2 by name', () => ping(n1, 'i1', 'i2'));
      // The same address that a container of a plain user bridge reaches, to be sure the way is there.
      await reaches('c1 (localnet) pings node2', () => ping(n1, 'c1', n2.address));
      const out = await ping(n1, 'i1', n2.address);
      assert.notEqual(out.code, 0, `i1 (internal) must not reach node2 at ${n2.address}: ${out.stdout}`);
      const web = await wgetIn(n1, 'i1', `http://${n1.address}:8080/`);
      assert.notEqual(web.code, 0, `i1 (internal) must not reach node1's published port: ${web.stdout}`);
    });

    // The swarm part last, so that every step above ran on a node outside any swarm (node1 stays so).
    const rowsOf = (h: LabHostState) =>
      waitFor(`${h.hostname} lists ingress`, 60_000, async () => {
        const r = await networkRows(h);
        return r.includes('ingress overlay swarm') ? r : undefined;
      });
    await t.test('a swarm: node2 inits, node3 joins as a worker; the manager lists ingress', async () => {
      const init = await swl(n2, ['init', '--advertise-addr', n2.address]);
      assert.match(init.stdout, /swarm initialized/i);
      const token = (await swl(n2, ['join-token', '-q', 'worker'])).stdout.trim();
      await swl(n3, ['join', '--token', token, `${n2.address}:2377`]);
      assert.ok((await rowsOf(n2)).includes('ingress overlay swarm'));
    });

    // Docker lists on a worker the swarm networks attached there, ingress always, from the node's own
    // knowledge (its assignments): the worker cannot ask the managers' store.
    await t.test('a worker lists ingress too', async () => {
      // Once the manager sees the worker ready, the worker has its assignments (ingress among them).
      await waitFor('node3 ready in node ls', 60_000, async () => {
        const ls = (await swl(n2, ['node', 'ls'])).stdout;
        return /^\S+\s+node3\s+Ready\s/m.test(ls) ? true : undefined;
      });
      assert.ok((await rowsOf(n3)).includes('ingress overlay swarm'), 'network ls on node3 (a worker)');
    });

    // Docker makes docker_gwbridge (a local bridge network) when a node enters a swarm, and lists it;
    // swarmlite's is the record of its gateway bridge device (worker/network/gateway-record.ts).
    await t.test("swarm nodes list docker_gwbridge: Docker's whole list", async () => {
      for (const h of [n2, n3]) {
        assert.deepEqual(
          await networkRows(h),
          [
            'bridge bridge local',
            'docker_gwbridge bridge local',
            'host host local',
            'ingress overlay swarm',
            'none null local',
          ],
          `network ls on ${h.hostname}`,
        );
      }
    });

    await t.test('docker_gwbridge: inspect describes the real device; rm refused in a swarm', async () => {
      for (const h of [n2, n3]) {
        const [gw] = JSON.parse((await swl(h, ['network', 'inspect', 'docker_gwbridge'])).stdout) as {
          Name: string;
          Driver: string;
          Scope: string;
          IPAM: { Config: { Subnet: string; Gateway: string }[] };
          Options: Record<string, string>;
        }[];
        assert.equal(gw!.Driver, 'bridge');
        assert.equal(gw!.Scope, 'local');
        assert.deepEqual(gw!.IPAM.Config, [{ Subnet: '172.18.0.0/16', Gateway: '172.18.0.1' }]);
        const dev = gw!.Options['com.docker.network.bridge.name']!;
        // `<prefix>_gwbridge`, cut to the kernel's 15 characters (overlay/names.ts hostIfName).
        assert.match(dev, /_gw/);
        // The device of that name is there (the ingress sandbox's leg needs it) with that address.
        const addr = await waitFor(`${dev} on ${h.hostname}`, 60_000, async () => {
          const r = await runIn(h, ['ip', '-o', '-4', 'addr', 'show', 'dev', dev]);
          return r.code === 0 && /172\.18\.0\.1\/16/.test(r.stdout) ? r.stdout : undefined;
        });
        assert.match(addr, /inet 172\.18\.0\.1\/16/);
        const rm = await swl(h, ['network', 'rm', 'docker_gwbridge'], 1);
        assert.match(rm.stderr, /docker_gwbridge is the swarm's gateway bridge/);
        assert.ok((await networkRows(h)).includes('docker_gwbridge bridge local'), 'still listed after rm');
      }
    });

    // Here swarmlite differs from Docker, which keeps docker_gwbridge after a leave: swarmlite's record
    // describes the device, and the overlay driver removes the device once the node's tasks are gone.
    await t.test('a worker that leaves lists the local networks alone again', async () => {
      await swl(n3, ['leave']);
      assert.deepEqual(await networkRows(n3), ['bridge bridge local', 'host host local', 'none null local']);
    });
  },
);

test(
  'macvlan on the underlay: containers of two hosts reach each other and a third host',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const lab = await createTestLab(t, 3);
    const [n1, n2, n3] = lab.hosts as [LabHostState, LabHostState, LabHostState];
    await loadImage(t, [n1, n2]);
    const subnet = labNames(lab.name, lab.subnetIndex).subnet; // the hosts' /24, eth0 in each host
    const base = subnet.replace(/\.0\/24$/, '');
    // Each node hands out its own part of the subnet, away from the hosts (.11...), the registry (.250)
    // and the machine (.254).
    const ranges = [`${base}.128/28`, `${base}.144/28`];
    for (const [i, h] of [n1, n2].entries()) {
      await swl(h, [
        'network',
        'create',
        '-d',
        'macvlan',
        '--subnet',
        subnet,
        '--ip-range',
        ranges[i]!,
        '-o',
        'parent=eth0',
        'mvnet',
      ]);
      assert.ok((await networkRows(h)).includes('mvnet macvlan local'));
    }
    await sleeper(n1, 'm1', 'mvnet');
    await sleeper(n2, 'm2', 'mvnet');
    const m1 = await ipOf(n1, 'm1', 'mvnet');
    const m2 = await ipOf(n2, 'm2', 'mvnet');
    const lastOctet = (ip: string) => Number(ip.split('.')[3]);
    assert.ok(
      m1.startsWith(`${base}.`) && lastOctet(m1) >= 128 && lastOctet(m1) < 144,
      `m1 in node1's range: ${m1}`,
    );
    assert.ok(
      m2.startsWith(`${base}.`) && lastOctet(m2) >= 144 && lastOctet(m2) < 160,
      `m2 in node2's range: ${m2}`,
    );
    await reaches('m1 pings m2 on the other host', () => ping(n1, 'm1', m2));
    await reaches('m2 pings m1 on the other host', () => ping(n2, 'm2', m1));
    await reaches("m1 pings node3's underlay address", () => ping(n1, 'm1', n3.address));
    await reaches("m2 pings node3's underlay address", () => ping(n2, 'm2', n3.address));
    // And node3 reaches them: they are hosts of the underlay, each with an address of its own.
    await waitFor('node3 pings m1 and m2', 60_000, async () => {
      const a = await runIn(n3, ['ping', '-c', '1', '-W', '3', m1]);
      const b = await runIn(n3, ['ping', '-c', '1', '-W', '3', m2]);
      return a.code === 0 && b.code === 0 ? true : undefined;
    });
  },
);
