#!/bin/bash
# task-start.sh STATE_DIR NETNS_PATH HOSTNAME LOG_MAX LOG_KEEP NSENTER UNSHARE CGROUP_PROCS... -- ARGV...
# Started by the daemon in a session of its own, with no pipe to it, so the task outlives a daemon
# that dies. It starts the two log writers (outside the task's cgroup and PID namespace, so an OOM
# kill or the namespace's teardown cannot take a stream's last lines with them), joins the task's
# cgroups, and becomes `nsenter` into the task's network namespace, then `unshare` of new PID,
# mount, UTS and IPC namespaces whose first process runs task-init.sh as PID 1.
set -u
state=$1 netns=$2 hostname=$3 max=$4 keep=$5 nsenter=$6 unshare=$7
shift 7
here=${BASH_SOURCE[0]%/*}

# Each writer closes the other's pipe, so each sees end-of-file when the task's last writer is gone.
exec 4> >(exec bash "$here/task-log.sh" "$state/logs/stdout.log" "$max" "$keep" 2>/dev/null)
out=$!
exec 5> >(exec bash "$here/task-log.sh" "$state/logs/stderr.log" "$max" "$keep" 2>/dev/null 4>&-)
err=$!
echo "$out $err" >"$state/loggers"

while [[ $1 != -- ]]; do
	echo "$$" >"$1" || exit 125
	shift
done
shift

exec 9<"$state/entry.sh" || exit 125
exec "$nsenter" "--net=$netns" -- "$unshare" --pid --fork --mount --uts --ipc --propagation slave --mount-proc \
	-- sh "$here/task-init.sh" "$state" "$hostname" "$@"
