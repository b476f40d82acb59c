#!/usr/bin/env bash
# The denoising AE, the beta-VAE and the conditional VAE of models/ end to end on a small MNIST
# subset: training lowers the loss, denoise and conditional samples draw, bad input exits 2.
set -u
TEST_FILE=test_family
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$tmp/cache}
data=${CLVAE_DATA_DIR:-data}

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }
# less A B: A < B as numbers.
less() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
# col RUN ROW NAME: a metrics.csv value (ROW 1 = epoch 1).
col() { awk -F, -v r="$2" -v n="$3" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == r + 1 { print $c[n] }' "$1/metrics.csv"; }

# The first 256 MNIST test images as a small test set (an IDX pair), so that the evaluation
# after each epoch stays short.
raw() { if [ -f "$1" ]; then cat "$1"; else zcat "$1.gz"; fi; }
{ printf '\000\000\010\003\000\000\001\000\000\000\000\034\000\000\000\034'
  raw "$data/mnist/t10k-images-idx3-ubyte" | tail -c +17 | head -c $((256 * 784)); } > "$tmp/test-images"
{ printf '\000\000\010\001\000\000\001\000'
  raw "$data/mnist/t10k-labels-idx1-ubyte" | tail -c +9 | head -c 256; } > "$tmp/test-labels"
small=(--limit 512 --epochs 2 --set "data.test=idx:$tmp/test-images,$tmp/test-labels")
{ printf '\000\000\010\003\000\000\001\000\000\000\000\034\000\000\000\034'
  raw "$data/fashion-mnist/t10k-images-idx3-ubyte" | tail -c +17 | head -c $((256 * 784)); } > "$tmp/f-images"
{ printf '\000\000\010\001\000\000\001\000'
  raw "$data/fashion-mnist/t10k-labels-idx1-ubyte" | tail -c +9 | head -c 256; } > "$tmp/f-labels"

t_check_config_counts() {
  "$clvae" check-config models/mnist_dae.cfg | grep -q "total: 288785 parameters" &&
  "$clvae" check-config models/mnist_dae.cfg | grep -q "^noise: Gaussian, std 0.5, clipped" &&
  "$clvae" check-config models/mnist_beta_vae.cfg | grep -q "total: 207237 parameters" &&
  "$clvae" check-config models/mnist_beta_vae.cfg | grep -q "^beta: linear from 0 to 4 over 10 epochs" &&
  "$clvae" check-config models/mnist_cvae.cfg | grep -q "total: 241477 parameters" &&
  "$clvae" check-config models/mnist_cvae.cfg | grep -q "^conditional on 10 classes" &&
  "$clvae" check-config models/mnist_cvae.cfg | grep -q "^1   conv      32x28x28 .* 3200 "
}
check check_config_counts t_check_config_counts

t_dae_trains_and_denoises() {
  local out rc
  out=$("$clvae" train models/mnist_dae.cfg "${small[@]}" --out "$tmp/dae" 2>&1) || { echo "$out" >&2; return 1; }
  # the test loss (noisy in, clean target) falls; figures include denoise.png
  less "$(col "$tmp/dae" 2 test_loss)" "$(col "$tmp/dae" 1 test_loss)" || { cat "$tmp/dae/metrics.csv" >&2; return 1; }
  [ "$(col "$tmp/dae" 1 beta)" = 0 ] && is_png "$tmp/dae/denoise.png" || return 1
  # three rows of 10 images of 28 px, zoom 2, 2 px padding: 10*58+2 x 3*58+2, under a title
  # band (26 px), with row labels (noisy, clean, denoised: 55 px) and a 10 px margin
  [ "$(png_size "$tmp/dae/denoise.png")" = "657x212" ] || { png_size "$tmp/dae/denoise.png" >&2; return 1; }
  out=$("$clvae" denoise "$tmp/dae" --count 5 --out "$tmp/d5.png") && is_png "$tmp/d5.png" &&
    [ "$(png_size "$tmp/d5.png")" = "367x212" ] && grep -q "rows: gaussian noise" <<<"$out" || return 1
  # the same seed gives the same picture, masking noise another one
  "$clvae" denoise "$tmp/dae" --count 5 --out "$tmp/d5b.png" >/dev/null && cmp -s "$tmp/d5.png" "$tmp/d5b.png" &&
  "$clvae" denoise "$tmp/dae" --count 5 --noise mask --p 0.5 --out "$tmp/dm.png" >/dev/null &&
    ! cmp -s "$tmp/d5.png" "$tmp/dm.png" || return 1
  # eval: denoising numbers and the plain reconstruction
  out=$("$clvae" eval "$tmp/dae" --n 100) && grep -q "plain reconstruction of clean images [0-9]" <<<"$out" || return 1
  "$clvae" eval "$tmp/dae" --n 100 --json | grep -q '"noise": "gaussian", "plain_reconstruction": [0-9]' || return 1
  # bad input: exit 2 with a message
  for bad in "--count 0" "--count 65" "--noise salt" "--std -1" "--p 1.5" "--label 3" "--bogus"; do
    out=$("$clvae" denoise "$tmp/dae" $bad --out "$tmp/x.png" 2>&1); rc=$?
    [ $rc -eq 2 ] && grep -q "error" <<<"$out" && [ ! -e "$tmp/x.png" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
}
check dae_trains_and_denoises t_dae_trains_and_denoises

t_beta_vae_anneals() {
  local out
  out=$("$clvae" train models/mnist_beta_vae.cfg "${small[@]}" --no-figures --out "$tmp/beta" 2>&1) || { echo "$out" >&2; return 1; }
  # beta per epoch: 0, 0.4; the training loss is recon + beta KL, the test loss recon + KL
  [ "$(col "$tmp/beta" 1 beta),$(col "$tmp/beta" 2 beta)" = "0,0.4" ] || { cat "$tmp/beta/metrics.csv" >&2; return 1; }
  [ "$(col "$tmp/beta" 1 train_loss)" = "$(col "$tmp/beta" 1 train_recon)" ] || return 1
  awk -F, 'NR > 1 { d = $2 - ($3 + $10 * $4); t = $5 - ($6 + $7); if (d*d > 1e-4 * $2 || t*t > 1e-6 * $5) exit 1 }' "$tmp/beta/metrics.csv" || return 1
  less "$(col "$tmp/beta" 2 train_recon)" "$(col "$tmp/beta" 1 train_recon)" || return 1
  grep -q "beta 0.4 (test loss: beta 1" <<<"$out" || return 1
  "$clvae" eval "$tmp/beta" --n 100 | grep -q "the negative ELBO"
}
check beta_vae_anneals t_beta_vae_anneals

t_cvae_trains_and_samples_by_label() {
  local out rc
  out=$("$clvae" train models/mnist_cvae.cfg "${small[@]}" --out "$tmp/cvae" 2>&1) || { echo "$out" >&2; return 1; }
  less "$(col "$tmp/cvae" 2 test_loss)" "$(col "$tmp/cvae" 1 test_loss)" || { cat "$tmp/cvae/metrics.csv" >&2; return 1; }
  # samples.png: a row per digit (labelled y=0 ...), 10 columns, under a title; loss.png: a
  # panel per loss column (loss, reconstruction, KL) of 450x300 under the title
  is_png "$tmp/cvae/samples.png" && [ "$(png_size "$tmp/cvae/samples.png")" = "627x618" ] &&
    [ "$(png_size "$tmp/cvae/loss.png")" = "1350x336" ] &&
    is_png "$tmp/cvae/reconstructions.png" && is_png "$tmp/cvae/latent.png" &&
    [ ! -e "$tmp/cvae/manifold.png" ] || return 1
  "$clvae" sample "$tmp/cvae" --label 3 --n 9 --out "$tmp/s3.png" >/dev/null && is_png "$tmp/s3.png" &&
    [ "$(png_size "$tmp/s3.png")" = "211x212" ] &&
  "$clvae" sample "$tmp/cvae" --label 3 --n 9 --out "$tmp/s3b.png" >/dev/null && cmp -s "$tmp/s3.png" "$tmp/s3b.png" &&
  "$clvae" sample "$tmp/cvae" --label 4 --n 9 --out "$tmp/s4.png" >/dev/null && ! cmp -s "$tmp/s3.png" "$tmp/s4.png" &&
  "$clvae" sample "$tmp/cvae" --n 20 --out "$tmp/grid.png" >/dev/null && [ "$(png_size "$tmp/grid.png")" = "301x618" ] &&
  "$clvae" manifold "$tmp/cvae" --label 7 --grid 4 --out "$tmp/m7.png" >/dev/null && is_png "$tmp/m7.png" &&
  "$clvae" reconstruct "$tmp/cvae" --n 4 --out "$tmp/r.png" >/dev/null && is_png "$tmp/r.png" &&
  "$clvae" eval "$tmp/cvae" --n 50 | grep -q "loss [0-9]" || return 1
  # refusals, each exit 2 with a message
  out=$("$clvae" sample "$tmp/cvae" --label 10 --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "classes 0 to 9" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" manifold "$tmp/cvae" --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "give --label K" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" interpolate "$tmp/cvae" --from 0 --to 1 --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "conditional" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" sample "$tmp/cvae" --label x 2>&1); rc=$?
  [ $rc -eq 2 ] || return 1
  # an unconditional run given --label
  out=$("$clvae" sample "$tmp/dae" --label 3 --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "not conditional" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" manifold "$tmp/dae" --label 3 --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "not conditional" <<<"$out" && [ ! -e "$tmp/x.png" ] || { echo "$out" >&2; return 1; }
  # a conditional model on data without labels is refused before any work
  out=$("$clvae" train models/mnist_cvae.cfg "${small[@]}" --set "data.train=idx:$tmp/test-images" --out "$tmp/nolab" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "has no labels" <<<"$out" && [ ! -e "$tmp/nolab" ] || { echo "$out" >&2; return 1; }
}
check cvae_trains_and_samples_by_label t_cvae_trains_and_samples_by_label

# Every other config of models/ (whatever is there: a new one is trained too) trains a few
# batches (4 per epoch, 2 epochs) with a falling training loss (the three above and the GANs,
# whose summed loss need not fall, have their own cases).
t_other_configs_train() {
  local cfg name test out n=0
  for cfg in models/*.cfg; do
    name=$(basename "$cfg" .cfg)
    # mnist_ddpm: its own case in tests/test_ddpm_cli.sh; mnist_superres: mnist_unet_dae's network
    # (trained here) with downsampling noise (test_config, test_score_cli superres)
    case $name in mnist_dae|mnist_beta_vae|mnist_cvae|mnist_dcgan|mnist_cgan|mnist_vqvae|mnist_vqvae_prior|mnist_ddpm|mnist_superres) continue ;; esac
    n=$((n + 1))
    case $name in
      fashion_*) test=(--set "data.test=idx:$tmp/f-images,$tmp/f-labels") ;;
      digits_*) test=() ;;
      *) test=(--set "data.test=idx:$tmp/test-images,$tmp/test-labels") ;;
    esac
    out=$("$clvae" train "$cfg" --limit 512 --epochs 2 "${test[@]}" --no-figures --out "$tmp/o_$name" 2>&1) || { echo "$cfg: $out" >&2; return 1; }
    if ! less "$(col "$tmp/o_$name" 2 train_loss)" "$(col "$tmp/o_$name" 1 train_loss)"; then
      { echo "$cfg: the training loss did not fall"; cat "$tmp/o_$name/metrics.csv"; } >&2
      return 1
    fi
  done
  [ $n -ge 6 ] || { echo "only $n configs in models/" >&2; return 1; }
}
check other_configs_train t_other_configs_train

# The DCGAN: trains on a few batches with both networks moving, its metrics by name, samples in
# [0, 1]; what it cannot do is refused; resuming is bit-exact with two optimizers and batchnorm
# buffers in one checkpoint.
t_dcgan_trains_and_resumes() {
  local out rc a b
  local gsmall=(--limit 256 --set "data.test=idx:$tmp/test-images,$tmp/test-labels")
  out=$("$clvae" train models/mnist_dcgan.cfg "${gsmall[@]}" --epochs 2 --out "$tmp/gan" 2>&1) || { echo "$out" >&2; return 1; }
  [ "$(head -1 "$tmp/gan/metrics.csv" | cut -d, -f1-6)" = "epoch,train_loss,train_d_loss,train_g_loss,train_d_real,train_d_fake" ] &&
    grep -q "^epoch 2/2  loss [0-9.]* (d_loss [0-9.]*, g_loss [0-9.]*, d_real 0\.[0-9]*, d_fake 0\.[0-9]*)" <<<"$out" &&
    is_png "$tmp/gan/samples.png" && is_png "$tmp/gan/loss.png" && [ ! -e "$tmp/gan/reconstructions.png" ] || { echo "$out" >&2; return 1; }
  out=$("$clvae" inspect "$tmp/gan") || return 1
  grep -q "^generator.decoder.2.running_var" <<<"$out" && grep -q "^discriminator.encoder.2.running_mean" <<<"$out" &&
    grep -q "^generator.optimizer.exp_avg " <<<"$out" && grep -q "^discriminator.optimizer.exp_avg_sq " <<<"$out" || { echo "$out" >&2; return 1; }
  "$clvae" sample "$tmp/gan" --n 16 --out "$tmp/gs.png" > /dev/null && is_png "$tmp/gs.png" || return 1
  for cmd in reconstruct latent interpolate; do
    out=$("$clvae" $cmd "$tmp/gan" --out "$tmp/x.png" 2>&1); rc=$?
    [ $rc -eq 2 ] && [ ! -e "$tmp/x.png" ] || { echo "$cmd: $rc $out" >&2; return 1; }
  done
  # bad GAN settings: exit 2 before any work, no run folder
  for bad in "train.d_steps=0" "loss.real_label=0.2" "loss.generator_loss=minimax" "dense#2.units=2"; do
    out=$("$clvae" train models/mnist_dcgan.cfg --set "$bad" --out "$tmp/gbad" 2>&1); rc=$?
    [ $rc -eq 2 ] && grep -q "error" <<<"$out" && [ ! -e "$tmp/gbad" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
  # bench times the GAN's whole step; --profile (one network's layers) is refused
  out=$("$clvae" bench models/mnist_dcgan.cfg --steps 1 --batch 16 2>&1) &&
    grep -q "^training: *[0-9.]* images/s" <<<"$out" && grep -q "^sampling: *[0-9.]* images/s" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" bench models/mnist_dcgan.cfg --steps 1 --profile 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "a GAN has two" <<<"$out" || { echo "$rc $out" >&2; return 1; }
  # one epoch, then --resume to two: the same as two straight
  "$clvae" train models/mnist_dcgan.cfg "${gsmall[@]}" --epochs 1 --no-figures --out "$tmp/gan1" > /dev/null 2>&1 &&
    "$clvae" train models/mnist_dcgan.cfg "${gsmall[@]}" --epochs 2 --resume --no-figures --out "$tmp/gan1" > /dev/null 2>&1 || return 1
  a=$(weights_hash "$tmp/gan"); b=$(weights_hash "$tmp/gan1")
  [ "$(wc -w <<<"$a")" -eq 3 ] && [ "$a" = "$b" ] || { echo "straight $a / resumed $b" >&2; return 1; }
}
check dcgan_trains_and_resumes t_dcgan_trains_and_resumes

# The VQ-VAE and its PixelCNN prior: the VQ-VAE trains with its quantizer's columns, resumes
# bit-exactly with the moving-average codebook buffers, refuses to sample alone, draws its code
# use; the prior trains on its codes, samples deterministically for a seed; bad input exits 2
# before any work (a prior's missing, wrong-kind or changed VQ-VAE run; K < 2; a flat [vq] input
# that D does not divide).
t_vqvae_and_prior() {
  local out rc a b
  local vsmall=(--limit 512 --set "data.test=idx:$tmp/test-images,$tmp/test-labels")
  out=$("$clvae" train models/mnist_vqvae.cfg "${vsmall[@]}" --epochs 2 --out "$tmp/vq" 2>&1) || { echo "$out" >&2; return 1; }
  [ "$(head -1 "$tmp/vq/metrics.csv" | cut -d, -f1-8)" = "epoch,train_loss,train_recon,train_codebook,train_commitment,train_perplexity,train_codes,train_restarts" ] &&
    grep -q "^epoch 2/2  loss [0-9.]* (recon [0-9.]*, codebook 0.000, commitment [0-9.]*, perplexity [0-9.]*, codes [0-9.]*, restarts [0-9.]*)" <<<"$out" &&
    less "$(col "$tmp/vq" 2 train_loss)" "$(col "$tmp/vq" 1 train_loss)" &&
    is_png "$tmp/vq/reconstructions.png" && [ ! -e "$tmp/vq/samples.png" ] || { echo "$out" >&2; cat "$tmp/vq/metrics.csv" >&2; return 1; }
  out=$("$clvae" inspect "$tmp/vq") && grep -q "\.embed_avg " <<<"$out" && grep -q "\.cluster_size " <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" sample "$tmp/vq" --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "samples through a prior" <<<"$out" && [ ! -e "$tmp/x.png" ] || { echo "sample: $rc $out" >&2; return 1; }
  out=$("$clvae" codes "$tmp/vq" --index 2 --out "$tmp/codes.png") && is_png "$tmp/codes.png" &&
    [ "$(wc -l < "$tmp/codes.csv")" -eq 129 ] || { echo "$out" >&2; return 1; }
  # one epoch, then --resume to two: the same weights and codebook buffers as two straight
  "$clvae" train models/mnist_vqvae.cfg "${vsmall[@]}" --epochs 1 --no-figures --out "$tmp/vq1" > /dev/null 2>&1 &&
    "$clvae" train models/mnist_vqvae.cfg "${vsmall[@]}" --epochs 2 --resume --no-figures --out "$tmp/vq1" > /dev/null 2>&1 || return 1
  a=$(weights_hash "$tmp/vq"); b=$(weights_hash "$tmp/vq1")
  [ "$a" = "$b" ] || { echo "straight $a / resumed $b" >&2; return 1; }
  # the prior: trains on the codes, records the VQ-VAE's hash, samples the same for a seed
  out=$("$clvae" train models/mnist_vqvae_prior.cfg --limit 512 --epochs 2 --set "data.codes=$tmp/vq" --out "$tmp/pr" 2>&1) || { echo "$out" >&2; return 1; }
  less "$(col "$tmp/pr" 2 train_loss)" "$(col "$tmp/pr" 1 train_loss)" && is_png "$tmp/pr/samples.png" || { cat "$tmp/pr/metrics.csv" >&2; return 1; }
  grep -a -q "codes_sha256 = $(sha256sum "$tmp/vq/checkpoint.safetensors" | cut -c1-64)" "$tmp/pr/checkpoint.safetensors" || { echo "no hash" >&2; return 1; }
  "$clvae" sample "$tmp/pr" --n 9 --out "$tmp/p1.png" > /dev/null && "$clvae" sample "$tmp/pr" --n 9 --out "$tmp/p2.png" > /dev/null &&
    "$clvae" sample "$tmp/pr" --n 9 --seed 2 --out "$tmp/p3.png" > /dev/null || return 1
  cmp -s "$tmp/p1.png" "$tmp/p2.png" && ! cmp -s "$tmp/p1.png" "$tmp/p3.png" && [ "$(png_size "$tmp/p1.png")" = "$(png_size "$tmp/p3.png")" ] || { echo "sampler not deterministic" >&2; return 1; }
  # compare: the VQ-VAE's row (reconstruction, its reconstructions in the grid) and the prior's
  out=$("$clvae" compare "$tmp/vq" "$tmp/pr" --n 64 --out "$tmp/cmp" 2>&1) &&
    grep -q "^| $tmp/vq | mnist_vqvae | vqvae | .* | [0-9.]* (BCE) |" "$tmp/cmp/compare.md" &&
    grep -q "^| $tmp/pr | mnist_vqvae_prior | prior | codes of " "$tmp/cmp/compare.md" &&
    is_png "$tmp/cmp/compare.png" || { echo "$out" >&2; cat "$tmp/cmp/compare.md" >&2; return 1; }
  # bad input: exit 2 before any work, no run folder
  for bad in "data.codes=$tmp/none:has no checkpoint" "data.codes=$tmp/pr:not a VQ-VAE" \
             "data.test=mnist:test:not train/test" "data.codes_sha256=$(printf '%064d' 0):changed since"; do
    out=$("$clvae" train models/mnist_vqvae_prior.cfg --set "data.codes=$tmp/vq" --set "${bad%:*}" --out "$tmp/pbad" 2>&1); rc=$?
    [ $rc -eq 2 ] && grep -q "${bad##*:}" <<<"$out" && [ ! -e "$tmp/pbad" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
  out=$("$clvae" train models/mnist_vqvae.cfg --set vq.codes=1 --out "$tmp/vbad" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "codes" <<<"$out" && [ ! -e "$tmp/vbad" ] || { echo "K=1: $rc $out" >&2; return 1; }
  printf '[model]\nkind = vqvae\n[input]\nchannels = 1\nheight = 4\nwidth = 4\n[flatten]\n[dense]\nunits = 6\n[vq]\ncodes = 4\ndim = 4\n[dense]\nunits = 16\nactivation = sigmoid\n' > "$tmp/flat.cfg"
  out=$("$clvae" train "$tmp/flat.cfg" --out "$tmp/vbad" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "must divide" <<<"$out" && [ ! -e "$tmp/vbad" ] || { echo "flat: $rc $out" >&2; return 1; }
}
check vqvae_and_prior t_vqvae_and_prior

# score --cas on the prior (an unconditional model whose samples are decoded code maps): the
# generated set holds the very images `generate` draws for the seed, labelled by the classifier
t_prior_cas() {
  local out
  "$clvae" train models/mnist_classifier.cfg --limit 512 --epochs 1 --no-figures \
    --set "data.test=idx:$tmp/test-images,$tmp/test-labels" --out "$tmp/pcls" > /dev/null 2>&1 || return 1
  out=$("$clvae" score "$tmp/pr" --classifier "$tmp/pcls" --count 64 --cas --cas-epochs 1 --cas-out "$tmp/pcas" 2>&1) || { echo "$out" >&2; return 1; }
  grep -q "trained on 64 generated images alone: [0-9.]*%  (labels: the classifier's predictions of the samples)" <<<"$out" || { echo "$out" >&2; return 1; }
  "$clvae" generate "$tmp/pr" --count 64 --out "$tmp/pgen" > /dev/null &&
    cmp "$tmp/pgen/images-idx3-ubyte" "$tmp/pcas/generated/images-idx3-ubyte" >&2
}
check prior_cas t_prior_cas

# a VQ-VAE changed since its prior was trained: the prior refuses it
t_prior_refuses_changed_vqvae() {
  local out rc
  local vsmall=(--limit 512 --set "data.test=idx:$tmp/test-images,$tmp/test-labels")
  "$clvae" train models/mnist_vqvae.cfg "${vsmall[@]}" --epochs 3 --resume --no-figures --out "$tmp/vq1" > /dev/null 2>&1 &&
    "$clvae" train models/mnist_vqvae_prior.cfg --limit 128 --epochs 1 --set "data.codes=$tmp/vq" --no-figures --out "$tmp/pr2" > /dev/null 2>&1 || return 1
  cp "$tmp/vq1/checkpoint.safetensors" "$tmp/vq/checkpoint.safetensors"
  out=$("$clvae" sample "$tmp/pr2" --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "changed since" <<<"$out" && [ ! -e "$tmp/x.png" ] || { echo "changed: $rc $out" >&2; return 1; }
}
check prior_refuses_changed_vqvae t_prior_refuses_changed_vqvae

# The U-Net denoising AE: its graph as check-config shows it (names and inputs of the skips).
t_unet_graph() {
  local out
  out=$("$clvae" check-config models/mnist_unet_dae.cfg) || return 1
  grep -q "total: 334017 parameters" <<<"$out" &&
    grep -q "^8   add       64x7x7 .* s3 <- d0, e3$" <<<"$out" &&
    grep -q "^10  concat    128x14x14 .* concat10 <- d1, e2$" <<<"$out" &&
    grep -q "^12  concat    64x28x28 .* concat12 <- d2, e1$" <<<"$out" || { echo "$out" >&2; return 1; }
}
check unet_graph t_unet_graph

finish
