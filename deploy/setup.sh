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
  [setpriv]=util-linux [curl]=curl [ruby]=ruby
)
missing=()
for tool in "${!PACKAGES[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 ||
    missing+=("${PACKAGES[$tool]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: missing packages: ${missing[*]} (install them as root with your package manager)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
