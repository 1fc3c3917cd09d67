# shellcheck shell=bash
# Shared by the VM lab scripts (sourced, not run): the CLI of this tree, commands in a lab's VMs,
# phase timings, retries, and one run per lab name with its labs taken down on exit, failed or not.
# The sourcing script is in test/vm/, has cd'ed to the tree's root and set LAB before `vm_run_begin`.

SCRIPT="test/vm/$(basename "$0")"

swarmlite() { node bin/swarmlite.js "$@"; }

on() { # on HOST CMD...: a command in a VM of lab $LAB
  local host=$1
  shift
  swarmlite lab exec --name "$LAB" "$host" -- "$@"
}

fail() {
  echo "$SCRIPT: $*" >&2
  exit 1
}

# until_ok SECONDS CMD...: retries CMD every 2 s until it succeeds or the time is up. CMD is run
# again each time: a check on a value that changes must be a function, not an expanded "$(...)".
until_ok() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 2
  done
}

declare -a TIMES=()
phase_start=$(date +%s.%N)
run_start=$phase_start
phase() { # phase NAME: records the time since the last phase under NAME
  local now
  now=$(date +%s.%N)
  TIMES+=("$(printf '%-66s %7.1f s' "$1" "$(echo "$now - $phase_start" | bc)")")
  echo "== $1: $(echo "$now - $phase_start" | bc | xargs printf '%.1f') s"
  phase_start=$now
}
report() { # report [WHAT THE VMS WERE]: every phase's time and the total
  echo
  echo "== times${1:+ ($1)}"
  printf '%s\n' "${TIMES[@]}"
  printf '%-66s %7.1f s\n' "total" "$(echo "$(date +%s.%N) - $run_start" | bc)"
}

# Labs to take down on exit (KEEP_LAB=1 keeps them for a look), and a hook for the script's own.
VM_LABS=()
vm_extra_cleanup() { :; }
vm_cleanup() {
  local rc=$? lab
  [ "${LOCKED:-0}" = 1 ] || return "$rc"
  vm_extra_cleanup
  if [ "${KEEP_LAB:-0}" != 1 ]; then
    for lab in "${VM_LABS[@]}"; do swarmlite lab down --name "$lab" >/dev/null 2>&1 || true; done
  fi
  [ "$rc" -eq 0 ] || echo "$SCRIPT: FAILED (exit $rc); labs ${VM_LABS[*]} $([ "${KEEP_LAB:-0}" = 1 ] && echo kept || echo removed)" >&2
}

# vm_run_begin LAB...: checks what the run needs, takes the first lab name's lock (a second run on the
# same name would tear the first one's VMs down), and starts from no such labs.
vm_run_begin() {
  VM_LABS=("$@")
  trap vm_cleanup EXIT
  command -v bc >/dev/null || fail "needs bc (apt-get install bc)"
  exec 9>"/run/lock/swarmlite-vm-run-$1.lock"
  flock -n 9 || fail "another VM run is using lab $1"
  LOCKED=1
  [ -f dist/cli/main.js ] || fail "build first: npm run build"
  local lab
  # REUSE_LAB=1: run again on labs a KEEP_LAB=1 run left up (a script that supports it skips its
  # `lab up`): minutes saved on each try while a script is being fixed.
  [ "${REUSE_LAB:-0}" = 1 ] && return 0
  for lab in "$@"; do swarmlite lab down --name "$lab" >/dev/null; done
}
