#!/usr/bin/env bash
# The main job of `make demo`: show the devices and run the kernels on the chosen one.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== clvae devices"
bin/clvae devices
echo
echo "== clvae selftest (kernels built for the selected device, checked against the host)"
bin/clvae -v selftest
