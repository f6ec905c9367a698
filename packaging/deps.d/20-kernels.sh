#!/usr/bin/env bash
# Guest kernels from Debian with apt (which verifies them): the current
# cloud-amd64 and arm64 kernels, following their meta packages, plus
# busybox-static per arch (the demo image and test root filesystems), into
# the kernel cache ($BERTH_KERNEL_DIR, default ~/.cache/berth/kernels); and
# the macOS build's pinned arm64 kernel (kernel.MacKernel, 57 MiB over
# HTTPS from deb.debian.org), fetched by the code a Mac runs on first use,
# so the tests boot what ships, and the pinned busybox-static per arch
# (kernel.BusyboxPins) that a Mac builds the demo image from.
# Idempotent: nothing is fetched when the cache is current. The first run
# needs root (it adds the arm64 architecture to dpkg and updates apt).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ ${1:-} == --check ]] && exit 0
go run ./packaging/kernels
