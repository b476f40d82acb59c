#!/usr/bin/env bash
# The main job of `make demo`: list the devices, check the kernels, and train the thesis VAE
# on MNIST for a few minutes into runs/demo with all its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${DEMO_EPOCHS:-3}
LIMIT=${DEMO_LIMIT:-12000}
echo "== clvae devices"
bin/clvae devices
echo
echo "== clvae selftest (kernels built for the selected device, checked against the host)"
bin/clvae selftest
echo
echo "== clvae check-config models/mnist_vae.cfg"
bin/clvae check-config models/mnist_vae.cfg
echo
echo "== clvae train models/mnist_vae.cfg --epochs $EPOCHS --limit $LIMIT --out runs/demo"
echo "   (the thesis trains 500 epochs on all 60,000 images; this is a short taste)"
rm -rf runs/demo
bin/clvae train models/mnist_vae.cfg --epochs "$EPOCHS" --limit "$LIMIT" --out runs/demo
echo
echo "== clvae eval runs/demo --iwae 5"
bin/clvae eval runs/demo --iwae 5
echo
echo "== clvae interpolate runs/demo --from 0 --to 1"
bin/clvae interpolate runs/demo --from 0 --to 1
echo
echo "The run is in runs/demo: samples.png reconstructions.png manifold.png latent.png"
echo "latent.csv loss.png interpolation.png metrics.csv checkpoint.safetensors"
