// Whether taking a manager out of the Raft membership (demote, remove, leave) keeps the swarm able
// to make decisions. Raft needs a majority of the voters it will have afterwards to be reachable;
// losing it leaves a cluster that cannot even undo the mistake, which is why it needs --force.

export interface ManagerView {
  nodeId: string;
  reachable: boolean;
}

export type RemovalVerdict = { ok: true } | { ok: false; reason: string; forceable: boolean };

export const quorumOf = (voters: number) => Math.floor(voters / 2) + 1;

export function checkManagerRemoval(managers: ManagerView[], nodeId: string, force: boolean): RemovalVerdict {
  const target = managers.find((m) => m.nodeId === nodeId);
  if (!target) return { ok: true };
  if (managers.length === 1) {
    return {
      ok: false,
      forceable: false,
      reason: `node ${nodeId} is the last manager of the swarm: removing it would destroy the swarm's state`,
    };
  }
  const after = managers.length - 1;
  const reachableAfter = managers.filter((m) => m.reachable && m.nodeId !== nodeId).length;
  if (reachableAfter >= quorumOf(after) || force) return { ok: true };
  return {
    ok: false,
    forceable: true,
    reason:
      `removing manager ${nodeId} would leave ${reachableAfter} reachable of ${after} managers, ` +
      `below the quorum of ${quorumOf(after)}: the swarm could no longer be managed (use --force to do it anyway)`,
  };
}
