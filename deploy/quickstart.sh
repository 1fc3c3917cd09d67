#!/usr/bin/env bash
# The main job on one machine: set up, build, bring up a 3-host lab whose hosts form a swarm (node1 a
# manager, node2 and node3 workers), and show it working. The lab stays up to explore:
#   node bin/swarmlite.js lab exec node1 -- swarmlite node ls
#   node bin/swarmlite.js lab down
# Run as root.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
bash deploy/setup.sh
swarmlite() { node bin/swarmlite.js "$@"; }

swarmlite lab down --name lab >/dev/null
swarmlite lab up --name lab --nodes 3 --managers 1
echo
swarmlite lab ls
echo
echo "== node1: swarmlite node ls"
swarmlite lab exec node1 -- swarmlite node ls
echo
echo "== node2: swarmlite info (a worker)"
swarmlite lab exec node2 -- swarmlite info | sed -n '2,8p'
echo
echo "== the hosts reach each other on the underlay, and this machine reaches them"
addresses=$(swarmlite lab ls --format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).filter(h=>h.lab==="lab").map(h=>h.address).join(" ")))')
set -- $addresses
swarmlite lab exec node1 -- ping -c 1 -W 2 "$2" | tail -n 2 | head -n 1
swarmlite lab exec node1 -- ping -c 1 -W 2 "$3" | tail -n 2 | head -n 1
ping -c 1 -W 2 "$1" | tail -n 2 | head -n 1
echo
echo "== node1: swarmlite network create -d overlay appnet"
swarmlite lab exec node1 -- swarmlite network create -d overlay appnet
echo
echo "== node1: swarmlite service create --name web --replicas 3 -p 5000:80 --network appnet host swarmlite whoami --port 80"
swarmlite lab exec node1 -- swarmlite service create --name web --replicas 3 -p 5000:80 --network appnet \
  --hostname '{{.Node.Hostname}}-{{.Task.Slot}}' host swarmlite whoami --port 80
echo
echo "== node1: swarmlite service ps web (one replica per host, each in its own namespaces)"
swarmlite lab exec node1 -- swarmlite service ps web
echo
echo "== the routing mesh: this machine curls port 5000 of every node; any node, any replica"
for address in "$@"; do
  for _ in 1 2; do
    printf '%s:5000 -> ' "$address"
    curl -s --max-time 3 "http://$address:5000/" | sed -n 's/^Name: //p'
  done
done
echo
echo "== node3 (a worker): swarmlite exec web.1 -- curl -s http://web/ (the service VIP, from inside a task)"
swarmlite lab exec node3 -- swarmlite exec web.1 -- curl -s --max-time 3 http://web/ | sed -n '1,2p' || true
echo
echo "== node1: the published port's nftables rules (nft list table ip lab-n1_publish)"
swarmlite lab exec node1 -- nft list table ip lab-n1_publish | sed -n '1,12p'
echo
echo "The lab is up, with the 'web' service running. Explore it:"
echo "  node bin/swarmlite.js lab exec node1 -- swarmlite service ps web"
echo "  node bin/swarmlite.js lab exec node1 -- swarmlite network inspect -v ingress"
echo "  node bin/swarmlite.js lab exec node1 -- swarmlite service logs web"
echo "  curl http://$1:5000/"
echo "remove it with 'node bin/swarmlite.js lab down'."
