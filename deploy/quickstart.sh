#!/usr/bin/env bash
# The main job on one machine: set up, build, bring up a 3-host lab, and show it working.
# The lab stays up to explore: `bin/swarmlite lab ls`, `bin/swarmlite lab exec node2 -- swarmlite info`,
# and `bin/swarmlite lab down` when done. Run as root.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
bash deploy/setup.sh
swarmlite() { node bin/swarmlite.js "$@"; }

swarmlite lab down --name lab >/dev/null
swarmlite lab up --name lab --nodes 3
echo
swarmlite lab ls
echo
for host in node1 node2 node3; do
  echo "== $host: swarmlite info"
  swarmlite lab exec "$host" -- swarmlite info | sed -n '2,4p;11p'
done
echo
echo "== node1 reaches node2 and node3 on the underlay; this machine reaches node1"
addresses=$(swarmlite lab ls --format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).filter(h=>h.lab==="lab").map(h=>h.address).join(" ")))')
set -- $addresses
swarmlite lab exec node1 -- ping -c 1 -W 2 "$2" | tail -n 2 | head -n 1
swarmlite lab exec node1 -- ping -c 1 -W 2 "$3" | tail -n 2 | head -n 1
ping -c 1 -W 2 "$1" | tail -n 2 | head -n 1
echo
echo "The lab is up. Explore it with 'node bin/swarmlite.js lab exec node2 -- swarmlite info';"
echo "remove it with 'node bin/swarmlite.js lab down'."
