#!/bin/sh
# swarmlite lab vmt: first boot of every VM (written by swarmlite lab up --vms).
# The daemon it installs is started and enabled by systemd; the lab then runs init and join.
set -eu
rm -rf /var/lib/swarmlite-lab/src
mkdir -p /var/lib/swarmlite-lab/src
tar -xf /mnt/swarmlite-lab/src.tar -C /var/lib/swarmlite-lab/src
export SWARMLITE_INSTALL_WAIT_S=3600
/var/lib/swarmlite-lab/src/deploy/install.sh --source /var/lib/swarmlite-lab/src --node-tarball /mnt/swarmlite-lab/node.tgz
