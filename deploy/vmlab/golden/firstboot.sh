#!/bin/sh
# swarmlite lab vmt: first boot of every VM (written by swarmlite lab up --vms).
# The daemon it installs is started and enabled by systemd; the lab then runs init and join.
set -eu
/mnt/swarmlite-lab/src/deploy/install.sh --source /mnt/swarmlite-lab/src --node-tarball /mnt/swarmlite-lab/node.tgz
