#!/usr/bin/env bash
# VLAN parents and ipvlan on the VM lab (not in the default suite): the paths a kernel without 802.1Q
# and IPvlan (the development machine's) cannot run, on two VMs with Debian's kernel, which has both.
# As root, from anywhere, on a built tree (npm run build):
#   1. macvlan on VLAN 100 (-o parent=eth0.100: the driver makes eth0.100 on each VM): containers of
#      the two VMs reach each other, also one that joined by `network connect`; the legs are macvlan
#      devices in bridge mode with Docker's 02:42:<address> MAC;
#   2. VLAN 200 apart: node2's VLAN 100 network goes (and its eth0.100 with it), a macvlan network on
#      eth0.200 takes the SAME subnet there in private mode, so only the VLAN tag keeps its container
#      from node1's VLAN 100 container: that one does not reach it, a host address on VLAN 200 does;
#      a pre-existing eth0.400 is used and left alone by `network rm`;
#   3. ipvlan l2 on VLAN 300 (the driver makes eth0.300): containers of the two VMs (one joined by
#      `network connect`) reach each other with their VM's MAC; macvlan on the same parent is refused;
#   4. ipvlan l3 on the underlay eth0, a subnet per VM, each VM routing the other's container subnet
#      to it (what l3 needs: see below): containers reach each other; `default dev eth0`, no gateway;
#   5. teardown: no container, network, sub-interface, labelled device or route left on either VM.
# Prints the time of every phase. Exits non-zero at the first failed check; the lab goes in any case.
#
# The routes l3 needs. In l3 mode the parent's host routes the containers' packets: a packet leaves
# through the VM's own routing table and arrives at the other VM addressed to the container's IP
# (no ARP for container addresses: the devices answer none). So each host needs a route to every other
# host's container subnet via that host's address, here `ip route add 10.61.2.0/24 via <node2>` on
# node1 and the reverse on node2 (on a real network: static routes on the router, or BGP). swarmlite
# does not distribute them, as Docker does not.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
LAB=${VMLAB_NAME:-vmvlan}
# shellcheck source=test/vm/lib.sh
. test/vm/lib.sh
vm_run_begin "$LAB"

# ---- helpers on containers and links -------------------------------------------------------------
sleeper() { # sleeper HOST NAME NETWORK: a container of the built-in image, sleeping on NETWORK
  on "$1" swarmlite run -d --name "$2" --network "$3" host sleep 1d >/dev/null
}
ip_of() { # ip_of HOST CONTAINER NETWORK: its address on NETWORK
  local ip
  ip=$(on "$1" swarmlite inspect -f "{{.NetworkSettings.Networks.$3.IPAddress}}" "$2" | tr -d '[:space:]')
  [[ $ip =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "$1: $2 has no address on $3 (got '$ip')"
  echo "$ip"
}
pings() { # pings HOST CONTAINER TARGET: one echo answered
  on "$1" swarmlite exec "$2" ping -n -c 1 -W 2 "$3" >/dev/null 2>&1
}
reaches() { # reaches HOST CONTAINER TARGET: answered within 60 s (ARP, a busy emulated VM)
  until_ok 60 pings "$@" || fail "$1: $2 does not reach $3"
  echo "  $1: $2 reaches $3"
}
never_reaches() { # never_reaches HOST CONTAINER TARGET: three echoes, none answered
  local _
  for _ in 1 2 3; do
    if pings "$@"; then fail "$1: $2 reaches $3, which it must not"; fi
  done
  echo "  $1: $2 does not reach $3 (3 echoes)"
}
vlan_made() { # vlan_made HOST IFACE BASE ID KIND: IFACE is VLAN ID on BASE, made by the KIND driver (its label)
  local out
  out=$(on "$1" ip -d link show "$2") || fail "$1: $2 does not exist"
  grep -q "^[0-9]*: $2@$3:" <<<"$out" || fail "$1: $2 is not on $3: $out"
  grep -q "vlan protocol 802.1Q id $4 " <<<"$out" || fail "$1: $2 is not VLAN $4: $out"
  grep -q "alias swarmlite-$5 owner=" <<<"$out" || fail "$1: $2 does not carry the $5 driver's label: $out"
}
absent() { # absent HOST IFACE
  if on "$1" ip link show "$2" >/dev/null 2>&1; then fail "$1: $2 is still there"; fi
}
leg_kind() { # leg_kind HOST CONTAINER IFACE: 'macvlan mode bridge', 'ipvlan  mode l2', ... as ip -d says
  on "$1" swarmlite exec "$2" ip -d link show "$3" | grep -oE '(macvlan|ipvlan) +mode [a-z0-9]+' | tr -s ' '
}
mac_in() { # mac_in HOST CONTAINER IFACE
  on "$1" swarmlite exec "$2" cat "/sys/class/net/$3/address" | tr -d '[:space:]'
}

# ---- 0. two VMs with swarmlite installed, no swarm (local networks only) --------------------------
swarmlite lab up --name "$LAB" --vms 2 --managers 0 --memory 1G
mapfile -t ADDRS < <(swarmlite lab ls --format json |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const h of JSON.parse(s))if(h.lab===process.argv[1])console.log(h.address)})' "$LAB")
[ "${#ADDRS[@]}" -eq 2 ] || fail "lab ls shows ${#ADDRS[@]} VMs, not 2"
for host in node1 node2; do
  [ "$(on "$host" systemctl is-active swarmlite.service)" = active ] || fail "$host: swarmlite.service not active"
  # What the kernel offers, for the record (the driver asks the kernel itself). Expanded in the VM.
  # shellcheck disable=SC2016
  on "$host" sh -c 'grep -hE "^CONFIG_(VLAN_8021Q|MACVLAN|IPVLAN)=" /boot/config-"$(uname -r)" 2>/dev/null | xargs echo "  $(hostname) $(uname -r):"' || true
done
phase "lab up: 2 VMs, install.sh, no swarm"

# ---- 1. macvlan on VLAN 100, across the two VMs ---------------------------------------------------
on node1 swarmlite network create -d macvlan --subnet 10.100.0.0/24 --ip-range 10.100.0.16/28 \
  -o parent=eth0.100 -o macvlan_mode=bridge v100
on node2 swarmlite network create -d macvlan --subnet 10.100.0.0/24 --ip-range 10.100.0.32/28 \
  -o parent=eth0.100 v100
for host in node1 node2; do
  vlan_made "$host" eth0.100 eth0 100 macvlan
  on "$host" swarmlite network ls | grep -qE ' v100 +macvlan +local' || fail "$host: network ls lacks v100"
done
sleeper node1 a100 v100
sleeper node2 b100 v100
A100=$(ip_of node1 a100 v100)
B100=$(ip_of node2 b100 v100)
[ "$(leg_kind node1 a100 eth0)" = "macvlan mode bridge" ] || fail "a100's eth0 is not a macvlan in bridge mode"
mac=$(mac_in node1 a100 eth0)
IFS=. read -r o1 o2 o3 o4 <<<"$A100"
[ "$mac" = "$(printf '02:42:%02x:%02x:%02x:%02x' "$o1" "$o2" "$o3" "$o4")" ] || fail "a100's MAC $mac is not 02:42:<$A100>"
reaches node1 a100 "$B100"
reaches node2 b100 "$A100"
# network connect: a container of the default bridge gets a second leg (eth1) on VLAN 100.
sleeper node1 c100 bridge
on node1 swarmlite network connect v100 c100
C100=$(ip_of node1 c100 v100)
[ "$(leg_kind node1 c100 eth1)" = "macvlan mode bridge" ] || fail "c100's eth1 is not its macvlan leg"
reaches node1 c100 "$B100"
reaches node2 b100 "$C100"
phase "macvlan on VLAN 100: two VMs, run --network and network connect"

# ---- 2. VLAN 200 is another wire, even with the same subnet ---------------------------------------
on node2 swarmlite rm -f b100 >/dev/null
on node2 swarmlite network rm v100 >/dev/null
absent node2 eth0.100 # made for v100, gone with it
vlan_made node1 eth0.100 eth0 100 macvlan # node1's is its own network's, still in use
on node2 swarmlite network create -d macvlan --subnet 10.100.0.0/24 --ip-range 10.100.0.48/28 \
  -o parent=eth0.200 -o macvlan_mode=private v200
vlan_made node2 eth0.200 eth0 200 macvlan
sleeper node2 b200 v200
B200=$(ip_of node2 b200 v200)
[ "$(leg_kind node2 b200 eth0)" = "macvlan mode private" ] || fail "b200's eth0 is not a macvlan in private mode"
# The control: a host address of node1 on VLAN 200 (made by hand, not the driver's) reaches b200, so
# VLAN 200 carries frames between the VMs and b200 answers.
on node1 sh -c 'ip link add link eth0 name eth0.200 type vlan id 200 &&
  ip addr add 10.100.0.250/24 dev eth0.200 && ip link set eth0.200 up'
until_ok 60 on node1 ping -n -c 1 -W 2 "$B200" || fail "node1's VLAN 200 address does not reach b200"
echo "  node1 (10.100.0.250 on its own eth0.200) reaches b200 $B200"
never_reaches node1 a100 "$B200"
never_reaches node2 b200 "$A100"
on node1 ip link del eth0.200
# A parent that exists already is used as it is and left alone by network rm.
on node1 sh -c 'ip link add link eth0 name eth0.400 type vlan id 400 && ip link set eth0.400 up'
on node1 swarmlite network create -d macvlan --subnet 10.40.0.0/24 -o parent=eth0.400 v400
on node1 swarmlite network rm v400 >/dev/null
out=$(on node1 ip -d link show eth0.400) || fail "node1: network rm v400 removed the user's eth0.400"
if grep -q 'alias swarmlite-' <<<"$out"; then fail "node1: the driver labelled the user's eth0.400: $out"; fi
on node1 ip link del eth0.400
phase "VLAN 200 apart from VLAN 100; a user's VLAN left alone"

# ---- 3. ipvlan l2 on VLAN 300, across the two VMs -------------------------------------------------
on node1 swarmlite network create -d ipvlan --subnet 10.30.0.0/24 --ip-range 10.30.0.16/28 \
  -o parent=eth0.300 -o ipvlan_mode=l2 i300
on node2 swarmlite network create -d ipvlan --subnet 10.30.0.0/24 --ip-range 10.30.0.32/28 \
  -o parent=eth0.300 i300
for host in node1 node2; do vlan_made "$host" eth0.300 eth0 300 ipvlan; done
sleeper node1 a300 i300
sleeper node2 b300 bridge
on node2 swarmlite network connect i300 b300
A300=$(ip_of node1 a300 i300)
B300=$(ip_of node2 b300 i300)
[ "$(leg_kind node1 a300 eth0)" = "ipvlan mode l2" ] || fail "a300's eth0 is not an ipvlan in l2 mode"
[ "$(leg_kind node2 b300 eth1)" = "ipvlan mode l2" ] || fail "b300's eth1 is not its ipvlan leg"
[ "$(mac_in node1 a300 eth0)" = "$(on node1 cat /sys/class/net/eth0/address | tr -d '[:space:]')" ] ||
  fail "a300's MAC is not node1's eth0 MAC"
reaches node1 a300 "$B300"
reaches node2 b300 "$A300"
# The same parent for the other kind: refused at create, naming the network that holds it.
if out=$(on node1 swarmlite network create -d macvlan --subnet 10.31.0.0/24 -o parent=eth0.300 clash 2>&1); then
  fail "node1: a macvlan network on ipvlan's eth0.300 was created"
fi
grep -q 'parent interface eth0.300 is already used by ipvlan network i300 (mode l2)' <<<"$out" ||
  fail "node1: the refusal does not say why: $out"
echo "  refused: $out"
phase "ipvlan l2 on VLAN 300: two VMs, run --network and network connect"

# ---- 4. ipvlan l3 on the underlay, routed ---------------------------------------------------------
on node1 swarmlite network create -d ipvlan --subnet 10.61.1.0/24 -o parent=eth0 -o ipvlan_mode=l3 l3net
on node2 swarmlite network create -d ipvlan --subnet 10.61.2.0/24 -o parent=eth0 -o ipvlan_mode=l3 l3net
on node1 ip route add 10.61.2.0/24 via "${ADDRS[1]}"
on node2 ip route add 10.61.1.0/24 via "${ADDRS[0]}"
sleeper node1 a61 l3net
sleeper node2 b61 l3net
A61=$(ip_of node1 a61 l3net)
B61=$(ip_of node2 b61 l3net)
[ "$(leg_kind node1 a61 eth0)" = "ipvlan mode l3" ] || fail "a61's eth0 is not an ipvlan in l3 mode"
route=$(on node1 swarmlite exec a61 ip route show default)
grep -qE '^default dev eth0' <<<"$route" || fail "a61's default route is not 'default dev eth0': $route"
reaches node1 a61 "$B61"
reaches node2 b61 "$A61"
phase "ipvlan l3 on eth0: two VMs, a route per VM"

# ---- 5. teardown: everything the networks made goes with them -------------------------------------
for host in node1 node2; do
  mapfile -t ctrs < <(on "$host" swarmlite ps -aq)
  [ "${#ctrs[@]}" -eq 0 ] || on "$host" swarmlite rm -f "${ctrs[@]}" >/dev/null
done
on node1 swarmlite network rm v100 i300 l3net >/dev/null
on node2 swarmlite network rm v200 i300 l3net >/dev/null
on node1 ip route del 10.61.2.0/24
on node2 ip route del 10.61.1.0/24
for host in node1 node2; do
  for dev in eth0.100 eth0.200 eth0.300; do absent "$host" "$dev"; done
  if on "$host" ip -d link show | grep -E 'alias swarmlite-(macvlan|ipvlan) '; then
    fail "$host: labelled devices left (above)"
  fi
  left=$(on "$host" swarmlite network ls --format json |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).map(n=>n.Name).sort().join(" ")))')
  [ "$left" = "bridge host none" ] || fail "$host: networks left: $left"
done
phase "teardown: sub-interfaces, legs and networks gone"

swarmlite lab down --name "$LAB"
phase "lab down (2 VMs)"
report "VMs: 1 vCPU, 1G each, QEMU at nice 10"
echo "test/vm/vlan-ipvlan.sh: PASS"
