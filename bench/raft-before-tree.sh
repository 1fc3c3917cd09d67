#!/usr/bin/env bash
# Builds the "before" side of issue 17's last check ("bench:scheduler and bench:converge are no slower
# than before"): a detached worktree of AFTER_COMMIT in which manager/raft/ alone is put back as it was
# before issue 17 (RAFT_COMMIT: the LMDB log, synchronous storage writes, acks sent before the write).
# Everything else, the control plane, the runtime and the benches themselves, is the after side's, so a
# paired run with bench/before-after.sh measures the Raft changes and nothing else.
#   bench/raft-before-tree.sh DIR [AFTER_COMMIT] [RAFT_COMMIT]
#   bench/raft-before-tree.sh /work/before-raft && bench/before-after.sh /work/before-raft . scheduler 3 OUT
# Three shims keep the old folder compiling against the newer callers; none is on a measured path:
# - node/errors.ts is the after side's (a superset: it adds LeaderlessError, which the old node never
#   throws, and names the fields of RaftTimeoutError);
# - storage/index.ts gains openLogStorage over the old DiskStorage (only `init --force-new-cluster`
#   calls it);
# - two manager tests that import newer Raft internals are left out (a bench tree runs no tests).
set -eu
if [ $# -lt 1 ]; then
  echo "usage: $0 DIR [AFTER_COMMIT] [RAFT_COMMIT]" >&2
  exit 2
fi
dir=$1
after=${2:-HEAD}
# The first parent of the merge that brought issue 17's first Raft branch in.
raft=${3:-e9d5649}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
if [ -e "$dir" ]; then
  echo "$dir already exists; remove it with: git -C $repo worktree remove --force $dir" >&2
  exit 2
fi
git -C "$repo" worktree add --detach "$dir" "$after" >/dev/null
cd "$dir"
rm -rf manager/raft
git checkout "$raft" -- manager/raft
git show "$after:manager/raft/node/errors.ts" >manager/raft/node/errors.ts
cat >>manager/raft/storage/index.ts <<'EOF'
// raft-before-tree.sh shim: the old code has only the LMDB layout.
import { DiskStorage as DiskStorageShim } from './disk-storage.js';
export const openLogStorage = async (dir: string) => ({ storage: await DiskStorageShim.open(dir) });
EOF
rm -f manager/read-index.test.ts manager/consensus-errors.test.ts
ln -s "$repo/node_modules" node_modules
node api/generate.js >/dev/null
npx tsc -p tsconfig.json
echo "$dir: $(git rev-parse --short "$after") with manager/raft at $(git rev-parse --short "$raft"), built"
