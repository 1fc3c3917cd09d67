#!/usr/bin/env bash
# The main job on one machine: set up, build, bring up a 3-host lab whose hosts form a swarm (node1 a
# manager, node2 and node3 workers) with an image registry of its own, build a small image from the
# busybox-static package, push it there, run a service on it and show it working. The lab stays up:
#   node bin/swarmlite.js lab exec node1 -- swarmlite node ls
#   node bin/swarmlite.js lab down
# Run as root.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
bash deploy/setup.sh
swarmlite() { node bin/swarmlite.js "$@"; }

# An image in the `docker save` layout, from nothing but busybox-static: one layer (busybox, a few of its
# applets as symlinks, and a CGI page saying which task answers), a config (entrypoint, env, port) named
# by its own digest, and manifest.json tying them to a name. $1: the archive to write, $2: the name.
build_image() {
  local out=$1 name=$2 work
  work=$(mktemp -d /tmp/swarmlite-quickstart.XXXXXX)
  mkdir -p "$work/rootfs/bin" "$work/rootfs/www/cgi-bin" "$work/rootfs/tmp"
  chmod 1777 "$work/rootfs/tmp"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for applet in sh hostname httpd cat ls wget nslookup timeout ip; do ln -s busybox "$work/rootfs/bin/$applet"; done
  cat >"$work/rootfs/www/cgi-bin/index.cgi" <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "Name: $(hostname)"
echo "Image: $IMAGE_NAME"
CGI
  chmod 755 "$work/rootfs/www/cgi-bin/index.cgi"
  tar --sort=name --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/layer.tar" .
  local diff_id config_id
  diff_id=sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  printf '%s' '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","IMAGE_NAME='"$name"'"],' \
    '"Entrypoint":["/bin/httpd","-f","-p","80","-h","/www"],"WorkingDir":"/www","ExposedPorts":{"80/tcp":{}}},' \
    '"rootfs":{"type":"layers","diff_ids":["'"$diff_id"'"]}}' >"$work/config.json"
  config_id=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mv "$work/config.json" "$work/$config_id.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$config_id" "$name" >"$work/manifest.json"
  tar -C "$work" -cf "$out" manifest.json "$config_id.json" layer.tar
  rm -rf "$work"
}

swarmlite lab down --name lab >/dev/null
swarmlite lab up --name lab --nodes 3 --managers 1 --registry
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
# lab up --registry puts the lab's registry at .250 of the lab's /24, port 5000 (plain HTTP, which every
# daemon of the lab was started to accept with --insecure-registry).
registry="${1%.*}.250:5000"
image="$registry/quickstart/web:1"
swarmlite lab exec node1 -- ping -c 1 -W 2 "$2" | tail -n 2 | head -n 1
swarmlite lab exec node1 -- ping -c 1 -W 2 "$3" | tail -n 2 | head -n 1
ping -c 1 -W 2 "$1" | tail -n 2 | head -n 1
echo
echo "== node1: swarmlite network create -d overlay appnet"
swarmlite lab exec node1 -- swarmlite network create -d overlay appnet
echo
echo "== an image built from busybox-static, loaded on node1 and pushed to the lab's registry"
archive=$(mktemp /tmp/swarmlite-quickstart-image.XXXXXX.tar)
trap 'rm -f "$archive"' EXIT
build_image "$archive" "$image"
swarmlite lab exec node1 -- swarmlite image load -i "$archive"
swarmlite lab exec node1 -- swarmlite image push "$image"
echo
echo "== node1: swarmlite service create --name web --replicas 3 -p 5000:80 --network appnet $image"
swarmlite lab exec node1 -- swarmlite service create --name web --replicas 3 -p 5000:80 --network appnet \
  --hostname '{{.Node.Hostname}}-{{.Task.Slot}}' "$image"
echo
echo "== node1: swarmlite service ps web (one replica per host: node2 and node3 pulled the image first)"
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
echo "== node3 (a worker): swarmlite exec web.1 -- wget -qO- http://web/ (the service VIP, from inside a task)"
swarmlite lab exec node3 -- swarmlite exec web.1 -- timeout 3 wget -q -O - http://web/ | sed -n '1,2p' || true
echo
echo "== node1: the published port's nftables rules (nft list table ip lab-n1_publish)"
swarmlite lab exec node1 -- nft list table ip lab-n1_publish | sed -n '1,12p'
echo
echo "The lab is up, with the 'web' service running. Explore it:"
echo "  node bin/swarmlite.js lab exec node1 -- swarmlite service ps web"
echo "  node bin/swarmlite.js lab exec node1 -- swarmlite network inspect -v ingress"
echo "  node bin/swarmlite.js lab exec node1 -- swarmlite service logs web"
echo "  node bin/swarmlite.js lab exec node2 -- swarmlite image ls"
echo "  curl http://$1:5000/"
echo "remove it with 'node bin/swarmlite.js lab down'."
