// Fault injection for the simulation: crashes (the leader often), partitions (random splits, an
// isolated leader, one-way links), membership changes through the leader (add learner, promote, add
// voter, remove — the leader itself included), leadership transfers, and members campaigning out of
// turn, and stalls (a paused process). Healing is scheduled with each partition.

import { ConfChangeType, ProposalDroppedError, type RaftId, Role } from '../types.js';
import type { SimNode } from './node.js';
import type { Simulation } from './simulation.js';

const MAX_NODES = 7;

export function injectFault(sim: Simulation): void {
  const live = [...sim.nodes.values()].filter((n) => n.alive);
  const leader = live.find((n) => n.raw!.raft.role === Role.Leader);
  const all = [...sim.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
  const roll = sim.rng.next();
  if (roll < 0.25) {
    if (live.length > 0) sim.crash(leader && sim.rng.chance(0.5) ? leader : sim.rng.pick(live));
  } else if (roll < 0.35) {
    if (leader) {
      // Cut the leader off with whatever it has not replicated yet; the rest elect a new leader.
      sim.net.heal();
      sim.net.partition(
        [leader.id],
        all.filter((id) => id !== leader.id),
      );
      sim.trace(`${sim.clock.now} isolate leader ${leader.id}`);
      sim.clock.schedule(sim.rng.int(30, 400), () => sim.net.heal());
    }
  } else if (roll < 0.5) {
    const shuffled = [...all].sort(() => sim.rng.next() - 0.5);
    const cut = sim.rng.int(1, Math.max(1, shuffled.length - 1));
    sim.net.heal();
    sim.net.partition(shuffled.slice(0, cut), shuffled.slice(cut));
    sim.trace(`${sim.clock.now} partition ${shuffled.slice(0, cut)} | ${shuffled.slice(cut)}`);
    sim.clock.schedule(sim.rng.int(50, 600), () => sim.net.heal());
  } else if (roll < 0.6) {
    if (all.length >= 2) {
      const a = sim.rng.pick(all);
      const b = sim.rng.pick(all.filter((x) => x !== a));
      sim.net.blockOneWay(a, b);
      sim.trace(`${sim.clock.now} block ${a}>${b}`);
      sim.clock.schedule(sim.rng.int(50, 600), () => sim.net.heal());
    }
  } else if (roll < 0.7) {
    if (leader) changeMembership(sim, leader);
  } else if (roll < 0.8) {
    // Stall a member (the leader, usually) for up to several election timeouts: a paused leader
    // wakes up believing it still leads and must not serve stale reads or commit anything.
    const victim = leader && sim.rng.chance(0.7) ? leader : live.length > 0 ? sim.rng.pick(live) : undefined;
    if (victim) sim.pause(victim, sim.rng.int(20, 500));
  } else if (roll < 0.9) {
    if (leader) {
      const voters = leader.raw!.raft.tracker.confState().voters.filter((id) => id !== leader.id);
      if (voters.length > 0) {
        const to = sim.rng.pick(voters);
        sim.trace(`${sim.clock.now} transfer ${leader.id} -> ${to}`);
        leader.raw!.transferLeader(to);
        sim.pump(leader);
      }
    }
  } else if (live.length > 0) {
    // A member campaigns out of turn (as after a local timer glitch).
    const n = sim.rng.pick(live);
    n.raw!.campaign();
    sim.pump(n);
  }
}

function changeMembership(sim: Simulation, leader: SimNode): void {
  const cs = leader.raw!.raft.tracker.confState();
  const members = new Set([...cs.voters, ...cs.learners]);
  const spares = [...sim.nodes.values()].filter(
    (n) => !n.retired && !members.has(n.id) && !sim.everMember.has(n.id),
  );
  const roll = sim.rng.next();
  let type: ConfChangeType;
  let id: RaftId;
  if (roll < 0.35 && cs.learners.length > 0) {
    type = ConfChangeType.AddVoter; // promotion
    id = sim.rng.pick(cs.learners);
  } else if (roll < 0.7 && cs.voters.length + cs.learners.length < 6) {
    let spare = spares[0];
    if (!spare) {
      if (sim.nodes.size >= MAX_NODES) return;
      spare = sim.addNode(sim.nextId++);
      sim.start(spare);
    }
    type = sim.rng.chance(0.6) ? ConfChangeType.AddLearner : ConfChangeType.AddVoter;
    id = spare.id;
  } else {
    // Voters go as low as one (the core refuses to remove the last), the leader included: having
    // applied its removal it hands leadership over (core/membership.ts) and keeps answering votes
    // until the survivor leads in the new configuration (Simulation.retireRemovedMembers). The daemon
    // transfers leadership before removing the leader; an inherited removal gives no such chance.
    const voters = cs.voters;
    const removable = [...cs.learners, ...(cs.voters.length > 3 || sim.rng.chance(0.3) ? voters : [])];
    if (removable.length === 0) return;
    type = ConfChangeType.RemoveMember;
    id = sim.rng.pick(removable);
  }
  try {
    leader.raw!.proposeConfChange({ type, id, context: new Uint8Array(0) });
    sim.everMember.add(id);
    sim.trace(`${sim.clock.now} propose ${ConfChangeType[type]} ${id} via ${leader.id}`);
  } catch (e) {
    if (!(e instanceof ProposalDroppedError)) throw e;
  }
  sim.pump(leader);
}
