#!/bin/sh
# task-init.sh STATE_DIR HOSTNAME ARGV...
# PID 1 of a task's PID namespace, already in the task's network, mount, UTS and IPC namespaces and
# cgroups (see task-start.sh). It finishes the sandbox (private /tmp, hostname), runs the task's
# command as its child through the task's entry script (fd 9: env, workdir, user), forwards
# termination signals to it (PID 1 gets no default signal actions, so without a forwarder `docker
# stop`-style SIGTERM would be lost on commands that do not handle it), reaps orphans, and records
# the command's exit status in STATE_DIR/exit for whoever asks, even a restarted daemon.
state=$1
hostname=$2
shift 2

# Opened before /tmp is replaced: the state folder may live under the host's /tmp.
exec 6>"$state/exit" 7>"$state/started" || exit 125

fail() {
	echo "swarmlite: $*" >&2
	echo 125 >&6
	exit 125
}

# The task's resolv.conf (the embedded DNS at 127.0.0.11) over the host's, in this mount namespace
# only; bound before /tmp is replaced, as the state folder may live under /tmp. Tasks prepared
# before swarmlite wrote one keep the host's.
if [ -e "$state/resolv.conf" ]; then
	mount --bind "$state/resolv.conf" /etc/resolv.conf || fail "cannot bind the task's resolv.conf over /etc/resolv.conf"
fi
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || fail "cannot mount a private /tmp"
# The swarmlite install leads the task's PATH; when it lives under the host's /tmp (a checkout there)
# the new /tmp hides it. The launch chain started in it, so this process's working directory still is
# that directory: bind it back at its path.
case ${SWARMLITE_ROOT:-} in
/tmp/*)
	# -c: mount(8) would canonicalize "." to the path, which now names the new, empty /tmp.
	mkdir -p "$SWARMLITE_ROOT" && mount -c --bind . "$SWARMLITE_ROOT" ||
		fail "cannot keep $SWARMLITE_ROOT visible in the task"
	;;
esac
unset SWARMLITE_ROOT
cd /
printf '%s' "$hostname" >/proc/sys/kernel/hostname || fail "cannot set the hostname"

# The child is forked before the traps exist: a child forked after would carry them until its own
# signal setup, and a TERM landing in that window ran the forwarder in the child, where $child is
# empty, and was lost (seen as a stop that needed SIGKILL). Nobody signals before `started` is
# written (the daemon's stop waits for the start), and by then the traps are in place.
sh /dev/fd/9 "$@" </dev/null >&4 2>&5 4>&- 5>&- 6>&- 7>&- &
child=$!
forward() {
	kill "-$1" "$child" 2>/dev/null
}
for sig in TERM INT HUP QUIT USR1 USR2; do
	# shellcheck disable=SC2064 # the signal name is meant to be expanded now
	trap "forward $sig" "$sig"
done
echo "$child" >&7
exec 4>&- 5>&- 7>&- 9<&-

# `wait` returns 128+n when a trapped signal n arrives, and dash may reap the child inside that
# interrupted wait (or any later one) and keep its status: reading `kill -0` failing after a 143 as
# "the child died of SIGTERM" once recorded 143 for a command that had exited 0. So: wait while the
# child exists (kill -0 sees a zombie too); once it is gone, a wait returns the kept status at once,
# or 127 when that status was already returned to us, and it is then the one we hold.
status=127
while kill -0 "$child" 2>/dev/null; do
	wait "$child"
	status=$?
done
wait "$child"
kept=$?
[ "$kept" -eq 127 ] || status=$kept
echo "$status" >&6
exit "$status"
