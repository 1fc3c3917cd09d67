#!/bin/bash
# oci-start.sh STATE_DIR LOG_MAX LOG_KEEP CREATE_ARGV...
# Started by the daemon in a session of its own, with no pipe to it, so the container outlives a
# daemon that dies. It starts the two log writers (outside the container, so an OOM kill or the
# PID namespace's end cannot take a stream's last lines with them), then becomes the container's
# supervisor (oci-shim.pl) with the writers' pipes as fds 4 (stdout) and 5 (stderr).
set -u
# A stray hangup, interrupt or TERM (a signal meant for another process whose pid or process group
# this launcher now holds: pids are reused quickly on a busy machine) must not end the task's helpers
# silently. The writers keep this; the supervisor restores the defaults for the OCI runtime and so the
# container. Only SIGKILL ends them from outside (the daemon's cleanup).
trap '' HUP INT QUIT TERM PIPE
state=$1 max=$2 keep=$3
shift 3
here=${BASH_SOURCE[0]%/*}

# Each writer closes the other's pipe, so each sees end-of-file when the container's last writer is gone.
exec 4> >(exec bash "$here/task-log.sh" "$state/logs/stdout.log" "$max" "$keep" 2>/dev/null)
out=$!
exec 5> >(exec bash "$here/task-log.sh" "$state/logs/stderr.log" "$max" "$keep" 2>/dev/null 4>&-)
err=$!
echo "$out $err" >"$state/loggers"
# This pid becomes the supervisor's: a daemon that dies before it records the launch finds it here.
echo "$$" >"$state/supervisor"

exec perl "$here/oci-shim.pl" "$state" "$@"
