#!/bin/sh
# Runs the Raft simulation over many fresh seeds, split across parallel processes, and prints the time.
#   manager/raft/sim/run-seeds.sh [SEEDS (default 40000)] [FIRST (default 100001)] [PROCESSES (default 2)]
# Needs a build (npx tsc -p tsconfig.json). A failing seed prints its replay command.
set -eu
seeds=${1:-40000}
first=${2:-100001}
procs=${3:-2}
dist=${SWARMLITE_DIST:-dist}
test=$dist/manager/raft/sim/simulation.test.js
[ -f "$test" ] || { echo "run-seeds: $test not found (build first)" >&2; exit 2; }
per=$(( (seeds + procs - 1) / procs ))
start=$(date +%s)
pids=''
i=0
while [ "$i" -lt "$procs" ]; do
  from=$(( first + i * per ))
  count=$per
  [ $(( from + count )) -gt $(( first + seeds )) ] && count=$(( first + seeds - from ))
  SWARMLITE_SIM_SEEDS=$count SWARMLITE_SIM_FIRST_SEED=$from node --test --test-reporter=spec "$test" >"${TMPDIR:-/tmp}/raft-sim-$$-$i.log" 2>&1 &
  pids="$pids $!"
  i=$(( i + 1 ))
done
status=0
for pid in $pids; do wait "$pid" || status=1; done
i=0
while [ "$i" -lt "$procs" ]; do
  grep -E 'raft simulation:|seed [0-9]+:|replay:' "${TMPDIR:-/tmp}/raft-sim-$$-$i.log" || true
  rm -f "${TMPDIR:-/tmp}/raft-sim-$$-$i.log"
  i=$(( i + 1 ))
done
echo "run-seeds: $seeds seeds from $first in $(( $(date +%s) - start )) s on $procs processes: $([ $status -eq 0 ] && echo passed || echo FAILED)"
exit $status
