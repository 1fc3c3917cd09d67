#!/usr/bin/env bash
# Prepares this machine to build, run and test swarmlite: the system tools it drives and tests with
# (Debian/Ubuntu packages, installed only when missing; ruby checks the Vagrantfile's syntax), the npm
# dependencies (no install scripts run), and a build.
# Run from anywhere as root; it is idempotent.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

# tool -> Debian package providing it
declare -A PACKAGES=(
  [ip]=iproute2 [bridge]=iproute2 [nft]=nftables [nsenter]=util-linux [unshare]=util-linux
  [mount]=mount [sysctl]=procps [ping]=iputils-ping [tcpdump]=tcpdump [iperf3]=iperf3
  [setpriv]=util-linux [curl]=curl [perl]=perl-base [runc]=runc [tini-static]=tini [busybox]=busybox-static
  [setfattr]=attr [getfattr]=attr [mknod]=coreutils
  [docker-registry]=docker-registry [htpasswd]=apache2-utils [ruby]=ruby
)
missing=()
for tool in "${!PACKAGES[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 ||
    missing+=("${PACKAGES[$tool]}")
done
# The image tests build images from the statically linked busybox (a dynamic one would not run in a
# chroot of its own), so the package itself is checked, not just a busybox command.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: missing packages: ${missing[*]} (install them as root with your package manager)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # docker-registry is only run by the image tests, from its binary with their own config; the package
  # would start its system service on port 5000: a policy-rc.d keeps that one service from starting.
  registry_guard=""
  if printf '%s\n' "${missing[@]}" | grep -qx docker-registry && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n[ "$1" = docker-registry ] && exit 101\nexit 0\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    registry_guard=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$registry_guard" ]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
    if command -v systemctl >/dev/null; then systemctl disable docker-registry.service >/dev/null 2>&1 || true; fi
  fi
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: swarmlite needs Node.js 20 or newer" >&2
  exit 1
fi

echo "setup: npm ci"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
echo "setup: build"
npm run --silent build
echo "setup: done"
