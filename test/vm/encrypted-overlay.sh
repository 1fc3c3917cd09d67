#!/usr/bin/env bash
# The encrypted overlay (`network create -d overlay --opt encrypted`) on real kernels with IPsec ESP
# (Debian's has esp4; the development machine's has none, so this runs only in the VM lab). As root,
# from anywhere, on a built tree (npm run build); not in the default suite:
#   1. a 3-VM lab (1 manager, 2 workers); each VM's kernel must accept an rfc4106(gcm(aes)) SA, and
#      tcpdump and iperf3 are put on the VMs from this machine's apt if the image lacks them;
#   2. the manager restarted with a short overlay key schedule (SWARMLITE_OVERLAY_KEY_ROTATION_MS,
#      default here 60 s: a rotation's three steps 6 s apart every minute);
#   3. an encrypted network and a plain one, an iperf3 server task on node2 and a client task on node3
#      on each; node2 and node3 hold ESP SAs and policies for each other, node1 (no task) none;
#   4. tcpdump on node3's underlay while iperf3 runs over the encrypted network: ESP packets, and not
#      one VXLAN packet of its VNI in the clear; the same capture over the plain network does show its
#      VXLAN (so the capture would have seen clear traffic);
#   5. iperf3 over the encrypted network across at least one full key rotation: the outbound SPI on
#      node3 changes during the run, the connection survives (iperf3 ends without error) and no
#      second passes without data;
#   6. figures: iperf3 plain vs encrypted overlay vs host to host vs host to host over the kernel's own
#      ESP (the crypto's ceiling on this CPU), alternated, median of 3.
# Prints the time of every phase and the figures. Exits non-zero at the first failed check; the lab goes
# in any case.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
LAB=${VMLAB_NAME:-vmenc}
ROTATION_MS=${ROTATION_MS:-60000}
IPERF_SECONDS=${IPERF_SECONDS:-10}
ROUNDS=${ROUNDS:-3}
# shellcheck source=test/vm/lib.sh
. test/vm/lib.sh
# js EXPR: runs EXPR with `j` bound to the JSON on stdin, prints what it returns.
js() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);const r=('"$1"');if(r!==undefined)console.log(typeof r==="object"?JSON.stringify(r):r)})'; }
vm_extra_cleanup() { [ -z "${DEBS:-}" ] || rm -rf "$DEBS"; }
vm_run_begin "$LAB"

# ---- 1. three VMs, ESP in their kernels, the tools ------------------------------------------------
[ "${REUSE_LAB:-0}" = 1 ] || swarmlite lab up --name "$LAB" --vms 3 --managers 1 --memory 1G
mapfile -t ADDRS < <(swarmlite lab ls --format json | js "j.filter(h=>h.lab==='$LAB').map(h=>h.address).join('\n')")
[ "${#ADDRS[@]}" -eq 3 ] || fail "lab ls shows ${#ADDRS[@]} VMs, not 3"
phase "lab up: 3 VMs, install.sh, init/join"
for host in node1 node2 node3; do
  # The same probe as lib/esp.ts, in a throwaway namespace.
  on "$host" unshare --net ip xfrm state add src 198.18.255.1 dst 198.18.255.2 proto esp spi 0x100 \
    reqid 1 mode transport aead 'rfc4106(gcm(aes))' 0x0101010101010101010101010101010101010101 128 ||
    fail "$host: the kernel refuses an ESP rfc4106(gcm(aes)) SA (esp4 missing?)"
done
# The VMs reach no registry: the packages of tcpdump's and iperf3's dependency closure that a VM lacks
# come from this machine's apt (the image is built from its sources), through ssh's stdin.
DEBS=$(mktemp -d)
installed() { dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" {print $2}' | sort -u; }
# `apt-cache depends` lists every alternative of a dependency (libelogind0 beside libsystemd0): only
# the ones this machine has installed are the closure that works, plus the two tools themselves.
mapfile -t CLOSURE < <(
  comm -12 <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances tcpdump iperf3 | grep -E '^[a-z0-9]' | sort -u) <(installed)
  printf '%s\n' tcpdump iperf3
)
mapfile -t CLOSURE < <(printf '%s\n' "${CLOSURE[@]}" | sort -u)
for host in node1 node2 node3; do
  on "$host" sh -c 'command -v tcpdump && command -v iperf3' >/dev/null 2>&1 && continue
  mapfile -t MISSING < <(comm -23 <(printf '%s\n' "${CLOSURE[@]}") \
    <(on "$host" sh -c "$(declare -f installed); installed"))
  [ "${#MISSING[@]}" -gt 0 ] || fail "$host lacks tcpdump/iperf3 but no package of their closure is missing"
  (cd "$DEBS" && apt-get download -qq "${MISSING[@]}") ||
    fail "apt-get download ${MISSING[*]} failed on this machine"
  on "$host" sh -c 'rm -rf /tmp/encdebs && mkdir /tmp/encdebs'
  for pkg in "${MISSING[@]}"; do
    for deb in "$DEBS/${pkg}"_*.deb; do
      on "$host" sh -c "cat > /tmp/encdebs/${deb##*/}" <"$deb"
    done
  done
  on "$host" sh -c 'dpkg -i /tmp/encdebs/*.deb >/dev/null' || fail "$host: installing ${MISSING[*]} failed"
done
phase "ESP in every VM's kernel; tcpdump and iperf3 on every VM"

# ---- 2. the manager with a short overlay key schedule ---------------------------------------------
on node1 sh -c "mkdir -p /etc/systemd/system/swarmlite.service.d && printf '[Service]\nEnvironment=SWARMLITE_OVERLAY_KEY_ROTATION_MS=$ROTATION_MS\n' > /etc/systemd/system/swarmlite.service.d/overlay-keys.conf && systemctl daemon-reload && systemctl restart swarmlite.service"
# (until_ok takes commands, not values: each check is a function so it is evaluated on every try.)
three_ready() { test "$(on node1 swarmlite node ls --format json | js 'j.filter(n=>n.status.state==="ready").length')" = 3; }
until_ok 300 three_ready || fail "the swarm did not come back with 3 ready nodes after the manager restart"
phase "manager restarted with SWARMLITE_OVERLAY_KEY_ROTATION_MS=$ROTATION_MS"

# ---- 3. an encrypted and a plain network, iperf3 tasks on node2 and node3 on each -----------------
if [ "${REUSE_LAB:-0}" = 1 ]; then # what an earlier run on this lab left
  on node1 swarmlite service rm srv-secure cli-secure srv-plain cli-plain >/dev/null 2>&1 || true
  # A network goes once its tasks are gone on every node.
  until_ok 180 on node1 sh -c 'for n in secure plain; do
    swarmlite network inspect $n >/dev/null 2>&1 || continue; swarmlite network rm $n || exit 1; done' ||
    fail "the networks of the earlier run on lab $LAB cannot be removed"
fi
on node1 swarmlite network create -d overlay --opt encrypted secure
on node1 swarmlite network create -d overlay plain
H2=$(on node2 hostname)
H3=$(on node3 hostname)
for net in secure plain; do
  on node1 swarmlite service create --name "srv-$net" --network "$net" --constraint "node.hostname==$H2" \
    host iperf3 -s
  on node1 swarmlite service create --name "cli-$net" --network "$net" --constraint "node.hostname==$H3" \
    host sleep infinity
done
task() { # task SERVICE FIELD: a field of the service's running task (ip, pid)
  on node1 swarmlite service ps "$1" -f desired-state=running --format json |
    js "(t=>t&&('$2'==='ip'?t.networks[0].addresses[0].split('/')[0]:t.status.pid))(j.find(t=>t.status.state==='running'))"
}
has_task() { test -n "$(task "$1" pid)"; }
for svc in srv-secure cli-secure srv-plain cli-plain; do
  until_ok 300 has_task "$svc" || fail "$svc is not running"
done
SECURE_IP=$(task srv-secure ip)
PLAIN_IP=$(task srv-plain ip)
CLI_SECURE=$(task cli-secure pid)
CLI_PLAIN=$(task cli-plain pid)
vni() { on node1 swarmlite network inspect "$1" | js 'j[0].vni'; }
SECURE_VNI=$(vni secure)
PLAIN_VNI=$(vni plain)
echo "secure: VNI $SECURE_VNI, server $SECURE_IP; plain: VNI $PLAIN_VNI, server $PLAIN_IP"
esp_states() { on "$1" ip xfrm state list | grep -c 'proto esp' || true; }
has_sas() { test "$(esp_states "$1")" -ge 2; }
until_ok 120 has_sas node3 || fail "node3 has no ESP SAs"
until_ok 120 has_sas node2 || fail "node2 has no ESP SAs"
[ "$(esp_states node1)" -eq 0 ] || fail "node1 (no task on the encrypted network) holds ESP SAs"
on node3 ip xfrm policy list | grep -Eq "dst ${ADDRS[1]}/32 proto (udp|17) dport 4789" ||
  fail "node3 has no outbound ESP policy towards node2"
on node3 ip xfrm state list
on node3 ip xfrm policy list
phase "networks, iperf3 tasks, SAs and policies on node2/node3 only"

# iperf TASKPID SERVER SECONDS: iperf3's JSON report, from the client task on node3.
iperf() { on node3 nsenter -t "$1" -n iperf3 -c "$2" -t "$3" -O 1 -J; }
# The connection may be refused for a moment after the server task starts.
until_ok 60 iperf "$CLI_SECURE" "$SECURE_IP" 1 || fail "iperf3 over the encrypted network does not connect"
until_ok 60 iperf "$CLI_PLAIN" "$PLAIN_IP" 1 || fail "iperf3 over the plain network does not connect"

# ---- 4. what the underlay carries -----------------------------------------------------------------
# capture NET TASKPID SERVER: tcpdump on node3 between node3 and node2 while iperf3 runs; prints
# "<esp packets> <vxlan packets of the network's VNI in the clear>".
capture() {
  local vni=$1 pid=$2 server=$3 pcap=/tmp/enc-$1.pcap
  # On the underlay device itself: what leaves and arrives on the wire (ESP before decryption).
  on node3 sh -c "rm -f $pcap; (timeout $((IPERF_SECONDS + 8)) tcpdump -i $UNDERLAY -nn -s 128 -U -w $pcap \
    'host ${ADDRS[1]} and host ${ADDRS[2]}' </dev/null >/dev/null 2>&1 &) ; sleep 2"
  iperf "$pid" "$server" "$IPERF_SECONDS" >/dev/null
  sleep 7
  local esp clear
  esp=$(on node3 sh -c "tcpdump -nn -r $pcap esp 2>/dev/null | wc -l")
  # The VNI is the top 24 bits of the 4 bytes at offset 4 of the VXLAN header (UDP payload offset 8).
  clear=$(on node3 sh -c "tcpdump -nn -r $pcap 'udp port 4789 and (udp[12:4] >> 8) = $vni' 2>/dev/null | wc -l")
  echo "$esp $clear"
}
UNDERLAY=$(on node3 ip -o route get "${ADDRS[1]}" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
[ -n "$UNDERLAY" ] || fail "node3: no route to node2's ${ADDRS[1]}"
read -r esp_enc clear_enc < <(capture "$SECURE_VNI" "$CLI_SECURE" "$SECURE_IP")
read -r esp_plain clear_plain < <(capture "$PLAIN_VNI" "$CLI_PLAIN" "$PLAIN_IP")
echo "encrypted network: $esp_enc ESP packets, $clear_enc VXLAN packets of VNI $SECURE_VNI in the clear"
echo "plain network:     $esp_plain ESP packets, $clear_plain VXLAN packets of VNI $PLAIN_VNI in the clear"
[ "$clear_enc" -eq 0 ] || fail "the encrypted network's VXLAN crossed the underlay in the clear ($clear_enc packets)"
[ "$esp_enc" -ge 1000 ] || fail "only $esp_enc ESP packets while iperf3 ran over the encrypted network"
[ "$clear_plain" -ge 1000 ] || fail "the capture saw only $clear_plain VXLAN packets of the plain network: it proves nothing"
phase "tcpdump: encrypted network only ESP, plain network VXLAN in the clear"

# ---- 5. a key rotation under a running iperf3 -----------------------------------------------------
out_spi() { on node3 ip xfrm policy list | grep -E -A4 "dst ${ADDRS[1]}/32 proto (udp|17) dport 4789" | sed -n 's/.* spi \(0x[0-9a-f]*\).*/\1/p' | head -1; }
# Long enough for one full rotation (its three steps take 2/10 of the period) wherever it starts.
ROT_SECONDS=$((ROTATION_MS * 13 / 10000 + 5))
spi_before=$(out_spi)
on node3 nsenter -t "$CLI_SECURE" -n iperf3 -c "$SECURE_IP" -t "$ROT_SECONDS" -J >"/tmp/$LAB-rotation.json" &
iperf_pid=$!
declare -A SPIS=(["$spi_before"]=1)
while kill -0 "$iperf_pid" 2>/dev/null; do
  s=$(out_spi || true)
  if [ -n "$s" ] && [ -z "${SPIS[$s]:-}" ]; then
    SPIS[$s]=1
    echo "  $(date +%T) node3 sends to node2 with SPI $s"
  fi
  sleep 1
done
wait "$iperf_pid" || fail "iperf3 across the rotation failed: $(js 'j.error' <"/tmp/$LAB-rotation.json")"
[ "${#SPIS[@]}" -ge 2 ] || fail "the outbound SPI never changed in $ROT_SECONDS s: no rotation happened"
js '`${(j.end.sum_received.bits_per_second/1e6).toFixed(0)} Mbit/s over ${j.end.sum_received.seconds.toFixed(0)} s, retransmits ${j.end.sum_sent.retransmits}, slowest second ${(Math.min(...j.intervals.map(i=>i.sum.bits_per_second))/1e6).toFixed(1)} Mbit/s`' <"/tmp/$LAB-rotation.json"
stalled=$(js 'j.intervals.filter(i=>i.sum.bytes===0).length' <"/tmp/$LAB-rotation.json")
[ "$stalled" -eq 0 ] || fail "$stalled second(s) without data during the rotation"
# A rotation may be under way again: within a period the set is back to one key, two SAs with node2.
two_sas() { test "$(esp_states node3)" -eq 2; }
until_ok $((ROTATION_MS / 1000)) two_sas ||
  fail "node3 holds $(esp_states node3) ESP SAs a period after the rotation, not 2 (the old key's stayed)"
phase "rotation under iperf3: ${#SPIS[@]} SPIs used, connection kept"

# ---- 6. figures ------------------------------------------------------------------------------------
# Besides plain overlay and host to host: the kernel's own ESP between the same two VMs, no VXLAN and no
# swarmlite (an SA pair and a policy each way for TCP port 5203 only, under a reqid and no mark the
# daemon ignores): what AES-GCM costs on this CPU, the ceiling for any encrypted overlay on it. Under
# TCG the AES instructions are emulated too, so this ceiling, not the overlay, sets the ratio to plain.
N2=${ADDRS[1]} N3=${ADDRS[2]}
HOST_KEY=0x$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
kernel_esp() { # kernel_esp add|delete
  local host sa1="src $N3 dst $N2 proto esp spi 0x52030001" sa2="src $N2 dst $N3 proto esp spi 0x52030002"
  # TCP by number (6): the VMs have no /etc/protocols. node3 sends to port 5203, node2 answers from it.
  local out3="src $N3/32 dst $N2/32 proto 6 dport 5203 dir out" out2="src $N2/32 dst $N3/32 proto 6 sport 5203 dir out"
  local sa="reqid 5203 mode transport aead 'rfc4106(gcm(aes))' $HOST_KEY 128"
  if [ "$1" = add ]; then
    for host in node2 node3; do on "$host" sh -c "ip xfrm state add $sa1 $sa && ip xfrm state add $sa2 $sa"; done
    on node3 sh -c "ip xfrm policy add $out3 tmpl src $N3 dst $N2 proto esp reqid 5203 mode transport"
    on node2 sh -c "ip xfrm policy add $out2 tmpl src $N2 dst $N3 proto esp reqid 5203 mode transport"
  else
    for host in node2 node3; do on "$host" sh -c "ip xfrm state delete $sa1; ip xfrm state delete $sa2" || true; done
    on node3 sh -c "ip xfrm policy delete $out3" || true
    on node2 sh -c "ip xfrm policy delete $out2" || true
  fi
}
kernel_esp add
on node2 iperf3 -s -p 5202 -D -I /tmp/iperf-host.pid
on node2 iperf3 -s -p 5203 -D -I /tmp/iperf-esp.pid
mbps() { js '(j.end.sum_received.bits_per_second/1e6).toFixed(0)'; }
declare -a PLAIN=() ENC=() HOST=() KESP=()
for _ in $(seq "$ROUNDS"); do
  PLAIN+=("$(iperf "$CLI_PLAIN" "$PLAIN_IP" "$IPERF_SECONDS" | mbps)")
  ENC+=("$(iperf "$CLI_SECURE" "$SECURE_IP" "$IPERF_SECONDS" | mbps)")
  HOST+=("$(on node3 iperf3 -c "$N2" -p 5202 -t "$IPERF_SECONDS" -O 1 -J | mbps)")
  KESP+=("$(on node3 iperf3 -c "$N2" -p 5203 -t "$IPERF_SECONDS" -O 1 -J | mbps)")
done
on node2 sh -c 'kill "$(cat /tmp/iperf-host.pid)" "$(cat /tmp/iperf-esp.pid)"'
esp_bytes=$(on node3 ip -s xfrm state get src "$N3" dst "$N2" proto esp spi 0x52030001 | sed -n 's/^[[:space:]]*\([0-9][0-9]*\)(bytes).*/\1/p' | tail -1)
kernel_esp delete
[ "${esp_bytes:-0}" -gt 1000000 ] || fail "the kernel-ESP runs did not cross their SA (${esp_bytes:-0} bytes)"
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
ratio() { echo "scale=2; $1 / $2" | bc; }
echo "iperf3 node3 → node2, $IPERF_SECONDS s × $ROUNDS alternated rounds (Mbit/s):"
echo "  plain overlay                median $(median "${PLAIN[@]}")   runs ${PLAIN[*]}"
echo "  encrypted overlay            median $(median "${ENC[@]}")   runs ${ENC[*]}"
echo "  host to host                 median $(median "${HOST[@]}")   runs ${HOST[*]}"
echo "  host to host, kernel ESP     median $(median "${KESP[@]}")   runs ${KESP[*]}"
echo "  encrypted / plain overlay    $(ratio "$(median "${ENC[@]}")" "$(median "${PLAIN[@]}")")"
echo "  kernel ESP / host to host    $(ratio "$(median "${KESP[@]}")" "$(median "${HOST[@]}")")"
echo "  encrypted overlay / kernel ESP $(ratio "$(median "${ENC[@]}")" "$(median "${KESP[@]}")")"
phase "figures: plain vs encrypted vs host"

report
echo "test/vm/encrypted-overlay.sh: PASS"
