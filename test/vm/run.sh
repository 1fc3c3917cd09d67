#!/usr/bin/env bash
# The VM lab, end to end (not in the default suite: it boots real VMs and takes minutes on 2 shared
# cores). As root, from anywhere, on a built tree (npm run build):
#   1. a 3-VM lab: each VM installed by deploy/install.sh on first boot, daemons started by systemd,
#      the swarm formed with init/join;
#   2. the quick start's service, curled through the routing mesh of every VM from this machine;
#   3. a worker rebooted: its daemon comes back by systemd and its task is restored;
#   4. the lab torn down;
#   5. a bare VM: install.sh twice (the second run changes nothing), then --uninstall leaves the VM as
#      it was: packages, unit files, files, nftables ruleset.
# Prints the time of every phase. Exits non-zero at the first failed check; the labs go in any case.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
LAB=${VMLAB_NAME:-vmrun}
BARE=${LAB}b
# shellcheck source=test/vm/lib.sh
. test/vm/lib.sh
vm_run_begin "$LAB" "$BARE"

# ---- 1. three VMs, installed on first boot, one swarm --------------------------------------------
swarmlite lab up --name "$LAB" --vms 3 --managers 1 --memory 1G
phase "lab up: image, boot, install.sh on 3 VMs, init/join"
mapfile -t ADDRS < <(swarmlite lab ls --format json |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const h of JSON.parse(s))if(h.lab===process.argv[1])console.log(h.address)})' "$LAB")
[ "${#ADDRS[@]}" -eq 3 ] || fail "lab ls shows ${#ADDRS[@]} VMs, not 3"
for host in node1 node2 node3; do
  [ "$(on "$host" systemctl is-enabled swarmlite.service)" = enabled ] || fail "$host: swarmlite.service not enabled"
  [ "$(on "$host" systemctl is-active swarmlite.service)" = active ] || fail "$host: swarmlite.service not active"
done
on node1 swarmlite node ls

# ---- 2. the quick start's service, through the mesh of every VM ----------------------------------
on node1 swarmlite network create -d overlay appnet
on node1 swarmlite service create --name web --replicas 3 -p 5000:80 --network appnet \
  --hostname '{{.Node.Hostname}}-{{.Task.Slot}}' host swarmlite whoami --port 80
# A global service as well: one task on every node, so the rebooted worker must get its own back.
on node1 swarmlite service create --name agent --mode global --network appnet host swarmlite whoami --port 8080
# running SERVICE [NODE]: the service's tasks running (on NODE), desired running.
running() {
  on node1 swarmlite service ps "$1" -f desired-state=running ${2:+-f node=$2} --format json |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).filter(t=>t.status.state==="running").length))'
}
# running_is N SERVICE [NODE]: a check that until_ok runs afresh each time.
running_is() { test "$(running "${@:2}")" = "$1"; }
until_ok 180 running_is 3 web || fail "web did not reach 3 running replicas"
until_ok 180 running_is 3 agent || fail "agent (global) is not running on the 3 nodes"
on node1 swarmlite service ps web
phase "services web (3 replicas) and agent (global) running"
curl_mesh() { # every VM's port 5000 answers from this machine
  local address
  for address in "${ADDRS[@]}"; do
    curl -sf --max-time 3 "http://$address:5000/" | grep -q '^Name: ' || return 1
  done
}
until_ok 120 curl_mesh || fail "the routing mesh does not answer on every VM"
for address in "${ADDRS[@]}"; do
  for _ in 1 2 3; do
    printf '%s:5000 -> %s\n' "$address" "$(curl -s --max-time 3 "http://$address:5000/" | sed -n 's/^Name: //p')"
  done
done
phase "routing mesh: curl port 5000 of every VM from this machine"

# ---- 3. a worker rebooted: systemd brings the daemon back, the task comes back -------------------
boot_id_before=$(on node3 cat /proc/sys/kernel/random/boot_id)
on node3 systemctl reboot || true # the connection drops with the VM
until_ok 300 sh -c "[ \"\$(node bin/swarmlite.js lab exec --name $LAB node3 -- cat /proc/sys/kernel/random/boot_id)\" != '$boot_id_before' ]" ||
  fail "node3 did not come back from its reboot"
phase "reboot node3: back on ssh"
daemon_active() { test "$(on node3 systemctl is-active swarmlite.service)" = active; }
until_ok 120 daemon_active ||
  fail "node3: swarmlite.service not active after the reboot"
on node3 journalctl -b -u swarmlite --no-pager -n 3 | sed 's/^/  node3: /'
until_ok 180 running_is 3 web || fail "web did not get back to 3 running replicas"
until_ok 180 running_is 1 agent node3 || fail "node3 did not get its agent (global) task back"
echo "after the reboot node3 runs $(running web node3) web task(s) and $(running agent node3) agent task"
until_ok 60 curl -sf --max-time 3 "http://${ADDRS[2]}:5000/" || fail "node3's port 5000 does not answer after the reboot"
on node1 swarmlite service ps web
phase "reboot node3: daemon back by systemd, task restored, mesh answers"

# ---- 4. teardown ---------------------------------------------------------------------------------
swarmlite lab down --name "$LAB"
phase "lab down (3 VMs)"

# ---- 5. install.sh twice on a fresh VM, then --uninstall leaves it as it was ---------------------
swarmlite lab up --name "$BARE" --vms 1 --managers 0 --no-install
phase "bare VM up"
bare() { swarmlite lab exec --name "$BARE" node1 -- "$@"; }
# The tree onto the VM's disk first, as the first boot does (one tar over 9p, not 4,700 files).
SRC=/var/lib/swarmlite-lab/src
bare sh -c "mkdir -p $SRC && tar -xf /mnt/swarmlite-lab/src.tar -C $SRC"
INSTALL=(env SWARMLITE_INSTALL_WAIT_S=3600 "$SRC/deploy/install.sh" --source "$SRC" --node-tarball /mnt/swarmlite-lab/node.tgz)
# What "as it was" means: the package set, the unit files, every file's path outside the volatile
# places (logs, caches, apt lists, systemd's own state), the content of /etc, /opt, /usr/local, and
# the nftables ruleset.
snapshot() {
  bare sh -c '
    echo "## packages"; dpkg-query -W -f "\${Package} \${Version} \${Status}\n" | sort
    echo "## unit files"; systemctl list-unit-files --no-legend --no-pager | sort
    echo "## files"
    find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp \
      -o -path /var/log -o -path /var/cache -o -path /var/lib/apt/lists -o -path /var/lib/systemd \
      -o -path /var/lib/dpkg -o -path /var/lib/swarmlite-lab/apt -o -path /root/.ssh \) -prune -o -print | sort
    echo "## contents"; find /etc /opt /usr/local -xdev -type f -print0 | sort -z | xargs -0 sha256sum
    echo "## nftables"; nft list ruleset 2>/dev/null || echo "(no nft)"'
}
snapshot >"/tmp/$BARE-before.txt"
bare "${INSTALL[@]}"
bare systemctl is-active swarmlite.service >/dev/null || fail "after install.sh: swarmlite.service not active"
bare nft list table inet swarmlite_firewall >/dev/null || fail "after install.sh: no swarmlite_firewall table"
bare swarmlite info | sed -n '1,4p'
manifest_first=$(bare cat /var/lib/swarmlite-install/manifest)
daemon_pid=$(bare systemctl show -p MainPID --value swarmlite.service)
phase "install.sh on the bare VM (first run)"
second=$(bare "${INSTALL[@]}")
echo "$second"
if echo "$second" | grep -q 'installing '; then fail "the second install.sh run installed packages again"; fi
[ "$(bare cat /var/lib/swarmlite-install/manifest)" = "$manifest_first" ] || fail "the second run changed the manifest"
[ "$(bare systemctl show -p MainPID --value swarmlite.service)" = "$daemon_pid" ] ||
  fail "the second run restarted the daemon although nothing changed"
phase "install.sh again (idempotent)"
echo "manifest: $(echo "$manifest_first" | cut -f1 | sort | uniq -c | xargs)"
bare "$SRC/deploy/install.sh" --uninstall
snapshot >"/tmp/$BARE-after.txt"
if ! diff -u "/tmp/$BARE-before.txt" "/tmp/$BARE-after.txt"; then
  fail "--uninstall did not leave the VM as it was (diff above; snapshots in /tmp/$BARE-*.txt)"
fi
echo "before/after --uninstall: $(wc -l <"/tmp/$BARE-before.txt") snapshot lines, identical"
phase "install.sh --uninstall: VM as it was"
swarmlite lab down --name "$BARE"
phase "lab down (bare VM)"
report "VMs: 1G each, vCPUs as lab up printed, QEMU at nice 10"
echo "test/vm/run.sh: PASS"
