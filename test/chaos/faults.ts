// The faults a chaos round injects into a lab of namespace hosts, each with its healing. Daemons are
// killed as the lab started them (by the pid file it wrote, checked against the process start time:
// deploy/lab/hosts.ts), and partitions are nftables rules in the lab host's own network namespace, in a
// table named after the lab, deleted when the partition heals.
import { withDaemon } from '../../daemon/client.js';
import { startDaemon, stopDaemon } from '../../deploy/lab/hosts.js';
import { writeLabState, type LabHostState, type LabState } from '../../deploy/lab/state.js';
import { run } from '../../lib/exec.js';
import type { ProcessRef } from '../../lib/process.js';
import type { Prng } from '../../lib/prng.js';

export const FAULT_KINDS = [
  'kill-leader',
  'partition-both-ways',
  'partition-one-way',
  'kill-worker',
  'kill-control-plane',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  kind: FaultKind;
  /** How long the fault lasts before it is healed. */
  holdMs: number;
  /** Picks among candidates (which manager to isolate, which worker to kill), drawn from the seed. */
  pick: number;
  /** partition-one-way: whether the victim stops hearing (input) or stops being heard (output). */
  inbound: boolean;
}

/** A round's faults from its seed: every kind at least once when `count` allows, in seeded order. */
export function faultSchedule(rng: Prng, count: number, holdMs: [number, number]): Fault[] {
  const kinds: FaultKind[] = [];
  while (kinds.length < count) {
    const batch = [...FAULT_KINDS];
    for (let i = batch.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [batch[i], batch[j]] = [batch[j]!, batch[i]!];
    }
    kinds.push(...batch.slice(0, count - kinds.length));
  }
  return kinds.map((kind) => ({
    kind,
    holdMs: rng.int(holdMs[0], holdMs[1]),
    pick: rng.int(0, 1 << 30),
    inbound: rng.chance(0.5),
  }));
}

export const chaosTable = (lab: string) => `${lab}_chaos`;

async function isLeader(host: LabHostState): Promise<boolean> {
  const info = await withDaemon(`unix://${host.socket}`, (calls) => calls.info({}, 3_000)).catch(
    () => undefined,
  );
  return info?.isLeader === true;
}

/** The manager that says it leads, waiting through an election (generously: a loaded machine). */
export async function findLeader(managers: LabHostState[], timeoutMs = 60_000): Promise<LabHostState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const m of managers) if (await isLeader(m)) return m;
    if (Date.now() > deadline) throw new Error(`no manager led within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Daemons a lab started, for the leftover check after teardown. */
export class Daemons {
  readonly started: ProcessRef[] = [];

  constructor(private readonly lab: LabState) {
    for (const h of lab.hosts) if (h.daemon) this.started.push(h.daemon);
  }

  async kill(host: LabHostState): Promise<void> {
    if (!(await stopDaemon(host, 'SIGKILL'))) throw new Error(`${host.hostname}'s daemon was not running`);
  }

  /** Starts hosts' daemons again on their data, concurrently, and records them in the lab's state. */
  async start(hosts: LabHostState[]): Promise<void> {
    await Promise.all(
      hosts.map(async (h) => {
        h.daemon = await startDaemon(h, 120_000);
        this.started.push(h.daemon);
      }),
    );
    writeLabState(this.lab);
  }
}

/** An nftables table in `host`'s namespace dropping its traffic with `peers` in the given directions. */
async function cut(lab: string, host: LabHostState, peers: string[], dirs: ('in' | 'out')[]): Promise<void> {
  const set = `{ ${peers.join(', ')} }`;
  const table = chaosTable(lab);
  const rules = [
    `table inet ${table} {`,
    ...(dirs.includes('in')
      ? [`  chain in { type filter hook input priority -10; policy accept; ip saddr ${set} drop; }`]
      : []),
    ...(dirs.includes('out')
      ? [`  chain out { type filter hook output priority -10; policy accept; ip daddr ${set} drop; }`]
      : []),
    '}',
  ];
  await run('nft', ['-f', '-'], { netns: host.netns, input: rules.join('\n') + '\n' });
}

export async function heal(lab: string, host: LabHostState): Promise<void> {
  await run('nft', ['delete', 'table', 'inet', chaosTable(lab)], { netns: host.netns, okIfAbsent: true });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Injects one fault, holds it, heals it; returns a line saying what was done. Healing happens even
 * when the hold is interrupted by an error, so a failed round still leaves no rule behind.
 */
export async function inject(lab: LabState, daemons: Daemons, fault: Fault): Promise<string> {
  const managers = lab.hosts.slice(0, lab.managers);
  const workers = lab.hosts.slice(lab.managers);
  switch (fault.kind) {
    case 'kill-leader': {
      const leader = await findLeader(managers);
      const pid = leader.daemon?.pid;
      await daemons.kill(leader);
      await sleep(fault.holdMs);
      await daemons.start([leader]);
      return `SIGKILL leader ${leader.hostname} (pid ${pid}), restarted after ${fault.holdMs} ms`;
    }
    case 'partition-both-ways':
    case 'partition-one-way': {
      // Half the time the leader: isolating it is what forces an election; a follower tests catch-up.
      const leader = await findLeader(managers);
      const victim = fault.pick % 2 === 0 ? leader : managers[fault.pick % managers.length]!;
      const others = lab.hosts.filter((h) => h !== victim);
      const oneWay = fault.kind === 'partition-one-way';
      // One way: from one other manager only (the victim no longer hears it, or is no longer heard).
      const peers = oneWay ? [managers.filter((m) => m !== victim)[fault.pick % 2]!] : others;
      const dirs: ('in' | 'out')[] = oneWay ? [fault.inbound ? 'in' : 'out'] : ['in', 'out'];
      try {
        await cut(
          lab.name,
          victim,
          peers.map((p) => p.address),
          dirs,
        );
        await sleep(fault.holdMs);
      } finally {
        await heal(lab.name, victim);
      }
      const what = oneWay
        ? `${victim.hostname} ${fault.inbound ? 'deaf to' : 'unheard by'} ${peers[0]!.hostname}`
        : `${victim.hostname} cut from all ${others.length} other hosts`;
      return `partition (${victim === leader ? 'leader' : 'follower'}) ${what} for ${fault.holdMs} ms, healed`;
    }
    case 'kill-worker': {
      const worker = workers[fault.pick % workers.length]!;
      const pid = worker.daemon?.pid;
      await daemons.kill(worker);
      await sleep(fault.holdMs);
      await daemons.start([worker]);
      return `SIGKILL worker ${worker.hostname} (pid ${pid}), restarted after ${fault.holdMs} ms`;
    }
    case 'kill-control-plane': {
      const pids = managers.map((m) => m.daemon?.pid);
      await Promise.all(managers.map((m) => daemons.kill(m)));
      await sleep(fault.holdMs);
      await daemons.start(managers);
      return `SIGKILL all ${managers.length} managers at once (pids ${pids.join(' ')}), restarted after ${fault.holdMs} ms`;
    }
  }
}
