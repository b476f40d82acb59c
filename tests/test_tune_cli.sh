#!/usr/bin/env bash
# `clvae tune`: a quick tuning run writes the device's cache, bench reports the tuned
# parameters, a damaged cache is one warning, tune, bench --gemm and bench --profile count the
# same GEMM calls, bad input is exit status 2.
set -u
TEST_FILE=test_tune_cli
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$tmp/cache}
export CLVAE_TUNING_DIR=$tmp/tuning
unset CLVAE_DEVICE CLVAE_TUNING CLVAE_GEMM_DEFAULTS
cfg=$tmp/digits.cfg
digits_cfg "$cfg"

t_quick_tune_writes_the_cache() {
  local out
  out=$("$clvae" tune --quick --json "$cfg" 2> "$tmp/progress") || { cat "$tmp/progress" >&2; return 1; }
  grep -q "tuning GEMM for" "$tmp/progress" && grep -q "candidate 1/" "$tmp/progress" || return 1
  # the direct-conv family is reached (the digits model has no conv: nothing to tune there)
  grep -q "^\[.*\] conv_direct: the models have no conv" "$tmp/progress" || return 1
  grep -q '"conv_direct_before_ms": ' <<<"$out" || return 1
  # the parameters chosen (none when the defaults stayed fastest) and the figures per shape
  grep -q '"params": {' <<<"$out" && grep -q '"tuned_gflop_s"' <<<"$out" || return 1
  local files=("$CLVAE_TUNING_DIR"/*.json)
  [ ${#files[@]} -eq 1 ] && [ -f "${files[0]}" ] || return 1
  grep -q '"format": "clvae-tuning"' "${files[0]}" && grep -q '"checksum": "[0-9a-f]\{64\}"' "${files[0]}" &&
    grep -q '"params": {' "${files[0]}" && grep -q '"driver_version": ' "${files[0]}" || return 1
  # nothing else left in the folder (the write is a rename of a temporary file)
  [ "$(ls -A "$CLVAE_TUNING_DIR" | wc -l)" -eq 1 ]
}
check quick_tune_writes_the_cache t_quick_tune_writes_the_cache

t_bench_says_which_parameters() {
  local out err
  out=$("$clvae" bench "$cfg" --steps 1 2> "$tmp/err") || return 1
  grep -q "^GEMM parameters: tuned" <<<"$out" && ! grep -q "clvae tune" "$tmp/err" || return 1
  out=$(CLVAE_TUNING=0 "$clvae" bench "$cfg" --steps 1 2>/dev/null) || return 1
  grep -q "^GEMM parameters: defaults (CLVAE_TUNING=0)" <<<"$out" || return 1
  out=$(CLVAE_TUNING_DIR=$tmp/empty "$clvae" bench "$cfg" --steps 1 2> "$tmp/err") || return 1
  grep -q "^GEMM parameters: defaults (untuned device)" <<<"$out" && grep -q "note: .*clvae tune" "$tmp/err" || return 1
  out=$("$clvae" bench "$cfg" --steps 1 --json 2>/dev/null) || return 1
  grep -q '"gemm_params": "tuned' <<<"$out"
}
check bench_says_which_parameters t_bench_says_which_parameters

t_damaged_cache_is_one_warning() {
  local f=("$CLVAE_TUNING_DIR"/*.json) out
  cp "${f[0]}" "$tmp/good.json"
  head -c 200 "$tmp/good.json" > "${f[0]}"
  out=$("$clvae" bench "$cfg" --steps 1 2>&1) || return 1
  [ "$(grep -c "warning: tuning cache .* ignored" <<<"$out")" -eq 1 ] &&
    grep -q "^GEMM parameters: defaults (tuning cache rejected)" <<<"$out" || return 1
  cp "$tmp/good.json" "${f[0]}"
  out=$("$clvae" bench "$cfg" --steps 1 2>&1) || return 1
  ! grep -q "warning" <<<"$out"
}
check damaged_cache_is_one_warning t_damaged_cache_is_one_warning

# The three ways to look at GEMM time count the same calls: `tune --shapes` (what the tuner
# times), `bench --gemm` (each distinct call of a training step, timed) and `bench --profile`
# (per layer) name the thesis VAE's (here at batch 16) calls alike, with the same transposes,
# counts and 2mnk FLOPs, and conv2's forward GEMM carries the layer's forward FLOPs; --gemm names
# the kinds of the layers that make each call.
t_gemm_calls_agree() {
  local vae=$tmp/vae16.cfg prof gemm shapes l2 line nm c f wg n=0 fl=$((2 * 64 * 3136 * 288))
  sed 's/^batch = 128$/batch = 16/' models/mnist_vae.cfg > "$vae" && grep -q '^batch = 16$' "$vae" || return 1
  prof=$("$clvae" bench "$vae" --steps 1 --profile --json 2>/dev/null) || return 1
  gemm=$("$clvae" bench "$vae" --gemm --json 2>/dev/null | grep '^{"gemm"') || return 1
  shapes=$("$clvae" tune --shapes --json "$vae" 2>/dev/null) || return 1
  # conv2 (32 -> 64 channels, 28x28 -> 14x14): one GEMM per pass, as training makes them
  l2=$(grep -o '{"layer": 2, "kind": "conv"[^]]*]' <<<"$prof") || return 1
  grep -q "\"flop\": $fl, \"bytes_forward\": [1-9][0-9]*, \"bytes_backward\": [1-9][0-9]*, \"gemms\"" <<<"$l2" || { echo "conv2: $l2" >&2; return 1; }
  # the weight gradient: ABT rows col^T where clvae's dot kernel takes it (pocl's CPU device),
  # else AB rows colT
  wg=$(grep -o '"gemm": "ABT\? 64x288x3136"' <<<"$l2" | head -1 | cut -d'"' -f4)
  [ -n "$wg" ] || { echo "conv2: no weight-gradient GEMM: $l2" >&2; return 1; }
  for c in 'AB 64x3136x288", "backward": 0' "$wg"'", "backward": 1' \
           'ATB 288x3136x64", "backward": 1'; do
    grep -q "{\"gemm\": \"$c, \"calls\": 1, \"flop\": $fl}" <<<"$l2" ||
      { echo "conv2 lacks $c: $l2" >&2; return 1; }
    nm=${c%%\"*}
    grep -q "^{\"gemm\": \"$nm\", .*\"made_by\": \"[^\"]*conv2 [^\"]*\", \"kinds\": \"[^\"]*conv" <<<"$gemm" ||
      { echo "bench --gemm: no $nm made by conv2 (a conv)" >&2; return 1; }
  done
  # make bench finds the conv layers' calls by their kinds; the 1024^3 has none
  grep -q '"made_by": "square 1024^3", "kinds": ""' <<<"$gemm" &&
    grep -q '"made_by": "latent[0-9]* fwd", "kinds": "latent"' <<<"$gemm" || { echo "$gemm" >&2; return 1; }
  # every call bench --gemm times is one tune times, with the same count and FLOPs, and no other
  while IFS= read -r line; do
    nm=$(grep -o '"gemm": "[^"]*"' <<<"$line" | cut -d'"' -f4)
    c=$(grep -o '"calls": [0-9]*' <<<"$line" | grep -o '[0-9]*$')
    f=$(grep -o '"flop": [0-9]*' <<<"$line" | grep -o '[0-9]*$')
    grep -q "{\"gemm\": \"$nm\", [^}]*\"calls\": $c, \"flop\": $f[,}]" <<<"$shapes" ||
      { echo "tune --shapes lacks $nm x$c ($f FLOP): $shapes" >&2; return 1; }
    n=$((n + 1))
  done <<<"$gemm"
  [ "$n" -ge 9 ] && [ "$n" -eq "$(grep -o '{"gemm": ' <<<"$shapes" | wc -l)" ]
}
check gemm_calls_agree t_gemm_calls_agree

t_bad_input_is_status_2() {
  local rc
  "$clvae" tune --budget 0 "$cfg" >/dev/null 2>&1; [ $? -eq 2 ] || return 1
  "$clvae" tune --budget soon "$cfg" >/dev/null 2>&1; [ $? -eq 2 ] || return 1
  "$clvae" tune --budget >/dev/null 2>&1; [ $? -eq 2 ] || return 1
  "$clvae" tune --bogus "$cfg" >/dev/null 2>&1; [ $? -eq 2 ] || return 1
  "$clvae" tune --quick "$tmp/nosuch.cfg" >/dev/null 2>&1; [ $? -eq 2 ] || return 1
  CLVAE_GEMM_DEFAULTS=1 "$clvae" tune --quick "$cfg" >/dev/null 2>&1; [ $? -eq 2 ] || return 1
  "$clvae" tune --device nosuchdevice --quick "$cfg" >/dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] || return 1
  "$clvae" tune --help | grep -q "CLVAE_TUNING=0"
}
check bad_input_is_status_2 t_bad_input_is_status_2

finish
