#!/usr/bin/env bash
# `clvae tune`: a quick tuning run writes the device's cache, bench reports the tuned
# parameters, a damaged cache is one warning, bad input is exit status 2.
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
