#!/usr/bin/env bash
# Small devices: a tiny maximum allocation (CLVAE_MAX_ALLOC) puts the dataset into chunks and
# training gives the same weights; a 64-item work-group limit trains; a batch or a model too
# big for the device stops with a message that says so and the batch that fits (exit 1).
set -u
TEST_FILE=test_small_device
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$tmp/cache}
unset CLVAE_MAX_ALLOC POCL_MAX_WORK_GROUP_SIZE
cfg=$tmp/digits_vae.cfg
digits_cfg "$cfg"
train() { "$clvae" train "$cfg" "$@"; }

t_chunked_dataset_same_weights() {
  # 32 KiB allocations: the 96,000 bytes of digits:train go up in 3 chunks; the weights are
  # those of a run on the whole device, bit for bit, and the figures still get drawn
  train --out "$tmp/whole" --no-figures > /dev/null 2>&1 || return 1
  CLVAE_MAX_ALLOC=32K "$clvae" -v train "$cfg" --out "$tmp/chunked" > "$tmp/log" 2>&1 || { cat "$tmp/log" >&2; return 1; }
  grep -q "maximum allocation: 32768 bytes (CLVAE_MAX_ALLOC)" "$tmp/log" && [ -s "$tmp/chunked/samples.png" ] &&
    [ "$(weights_hash "$tmp/chunked")" = "$(weights_hash "$tmp/whole")" ]
}
check chunked_dataset_same_weights t_chunked_dataset_same_weights

t_work_group_64() {
  # a small integrated GPU's work-group limit (and small allocations): training runs, the
  # loss falls, the weights are finite
  POCL_MAX_WORK_GROUP_SIZE=64 CLVAE_MAX_ALLOC=32K train --epochs 3 --out "$tmp/wg64" --no-figures > "$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; return 1; }
  "$clvae" inspect "$tmp/wg64" | grep -q "^parameters sha256 .*(0 non-finite)" &&
    awk -F, 'NR == 2 { a = $2 } NR == 4 { b = $2 } END { exit !(b < a) }' "$tmp/wg64/metrics.csv"
}
check work_group_64 t_work_group_64

t_batch_too_big() {
  # --batch 65536 (1,500 images: the whole set) on 32 KiB allocations: refused before any
  # work, with the batch that fits; that batch then trains
  local rc fit
  CLVAE_MAX_ALLOC=32K train --batch 65536 --out "$tmp/big" --no-figures > "$tmp/log" 2>&1; rc=$?
  [ $rc -eq 1 ] && grep -q "out of device memory: a batch of 1500 needs" "$tmp/log" &&
    grep -q "maximum allocation of 32.0 KiB" "$tmp/log" && [ ! -e "$tmp/big/checkpoint.safetensors" ] ||
    { cat "$tmp/log" >&2; return 1; }
  ! grep -q "CL_[A-Z_]*\b" "$tmp/log" || { cat "$tmp/log" >&2; return 1; }
  fit=$(sed -n 's/.*use a batch of \([0-9]*\) or less.*/\1/p' "$tmp/log")
  [ -n "$fit" ] && CLVAE_MAX_ALLOC=32K train --batch "$fit" --epochs 1 --out "$tmp/fit" --no-figures > "$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; return 1; }
  # one more than that does not fit
  CLVAE_MAX_ALLOC=32K train --batch $((fit + 1)) --epochs 1 --out "$tmp/fit1" --no-figures > /dev/null 2>&1; [ $? -eq 1 ]
}
check batch_too_big t_batch_too_big

t_activations_exceed_global_memory() {
  # 1x1 convolutions wide enough that each activation buffer is half the maximum allocation
  # and all of them more than the global memory: refused before any allocation
  local json global alloc filters layers rc
  json=$("$clvae" devices --json) || return 1
  global=$(sed -n 's/.*"global_mem_bytes": \([0-9]*\).*/\1/p' <<<"$json" | head -1)
  alloc=$(sed -n 's/.*"max_alloc_bytes": \([0-9]*\).*/\1/p' <<<"$json" | head -1)
  filters=$((alloc / 2 / (1500 * 64 * 4)))
  [ "$filters" -gt 8192 ] && filters=8192
  layers=$((global / (1500 * 64 * 4 * 4 * filters) + 2))
  { sed '/^\[flatten\]/,$d' "$cfg"
    for _ in $(seq "$layers"); do printf '[conv]\nfilters = %d\nsize = 1\nactivation = relu\n' "$filters"; done
    sed -n '/^\[flatten\]/,$p' "$cfg"; } > "$tmp/wide.cfg"
  "$clvae" train "$tmp/wide.cfg" --batch 1500 --out "$tmp/wide" --no-figures > "$tmp/log" 2>&1; rc=$?
  [ $rc -eq 1 ] && grep -q "out of device memory: a batch of 1500" "$tmp/log" && grep -q "global memory" "$tmp/log" &&
    grep -q "use a batch of [0-9]* or less" "$tmp/log" || { cat "$tmp/log" >&2; return 1; }
}
check activations_exceed_global_memory t_activations_exceed_global_memory

t_bad_max_alloc() {
  local rc
  CLVAE_MAX_ALLOC=12Q train --out "$tmp/bad" > "$tmp/log" 2>&1; rc=$?
  [ $rc -eq 2 ] && grep -q "CLVAE_MAX_ALLOC='12Q' is not a byte count" "$tmp/log" || { cat "$tmp/log" >&2; return 1; }
}
check bad_max_alloc t_bad_max_alloc

finish
