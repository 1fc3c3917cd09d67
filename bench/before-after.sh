#!/usr/bin/env bash
# Runs one `npm run bench:<name>` alternately in two built checkouts (before, after, after, before, ...),
# because on a shared machine only paired runs are comparable: load moves between runs more than most
# changes move a figure. Each run's output goes to OUTDIR/<pair>-<side>.txt with the load average at its
# start and end; the figures are read from there. Run one bench at a time (root benches make labs).
#   bench/before-after.sh BEFORE_DIR AFTER_DIR BENCH PAIRS OUTDIR [-- bench options]
# e.g. git worktree add --detach /tmp/before <commit>; build it; then
#   bench/before-after.sh /tmp/before . scheduler 3 /tmp/sched
set -u
if [ $# -lt 5 ]; then
  echo "usage: $0 BEFORE_DIR AFTER_DIR BENCH PAIRS OUTDIR [-- bench options]" >&2
  exit 2
fi
before=$1 after=$2 bench=$3 pairs=$4 out=$5
shift 5
[ "${1:-}" = "--" ] && shift
case $pairs in '' | *[!0-9]*)
  echo "PAIRS must be a number, got '$pairs'" >&2
  exit 2
  ;;
esac
for dir in "$before" "$after"; do
  if ! grep -q "\"bench:$bench\"" "$dir/package.json" 2>/dev/null; then
    echo "$dir has no bench:$bench script" >&2
    exit 2
  fi
done
load() { cut -d' ' -f1-3 /proc/loadavg; }
mkdir -p "$out"
for i in $(seq 1 "$pairs"); do
  # The sides take turns going first: a run leaves the machine warmer or busier for the one after it
  # (converge: the worker daemons, whose code both sides share, cost 26% more CPU a task in the second
  # run of a pair when before always went first).
  order="before after"
  [ $((i % 2)) -eq 0 ] && order="after before"
  for side in $order; do
    dir=$before
    [ "$side" = after ] && dir=$after
    file="$out/$i-$side.txt"
    echo "# $(date -u +%FT%TZ) load $(load) $side $dir" >"$file"
    (cd "$dir" && npm run --silent "bench:$bench" -- "$@") >>"$file" 2>&1
    echo "# rc $? end $(date -u +%FT%TZ) load $(load)" >>"$file"
    echo "$file"
  done
done
