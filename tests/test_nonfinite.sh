#!/usr/bin/env bash
# The non-finite guard: a NaN in a batch (CLVAE_FAULT_NAN_BATCH) or a huge learning rate is
# caught on the device within the step, the step is skipped, a streak stops the run with the
# epoch and batch, and no checkpoint holds a NaN; also under fast maths and with a compiler
# that folds isfinite()/isnan() away.
set -u
TEST_FILE=test_nonfinite
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$tmp/cache}
unset CLVAE_FAULT_NAN_BATCH CLVAE_FAST_MATH CLVAE_KERNEL_DIR
cfg=$tmp/digits_vae.cfg
digits_cfg "$cfg"
train() { "$clvae" train "$cfg" --no-figures "$@"; }

# finite RUN: the checkpoint holds no NaN or infinity
finite() { "$clvae" inspect "$1" | grep -q "^parameters sha256 .*(0 non-finite)" &&
  "$clvae" inspect "$1" | grep -q "^optimizer sha256 .*(0 non-finite)"; }

t_nan_step_skipped() {
  # step 5 of 24 sees a NaN pixel: skipped on the device, the run goes on with finite weights
  local rc
  CLVAE_FAULT_NAN_BATCH=5 train --epochs 1 --out "$1/skip" > "$tmp/log" 2>&1; rc=$?
  [ $rc -eq 0 ] && grep -q "warning: epoch 1: 1 of 24 steps skipped" "$tmp/log" || { cat "$tmp/log" >&2; return 1; }
  finite "$1/skip" && ! grep -qi "nan\|inf" "$1/skip/metrics.csv"
}

t_nan_caught_in_one_step() {
  # with train.max_skipped=0 the first bad step stops the run, and the message names it
  local rc
  CLVAE_FAULT_NAN_BATCH=5 train --epochs 1 --set train.max_skipped=0 --out "$1/one" > "$tmp/log" 2>&1; rc=$?
  [ $rc -eq 2 ] && grep -q "training stopped at epoch 1, batch 5: 1 step in a row had a NaN or infinite loss or gradient" "$tmp/log" &&
    grep -q "no checkpoint was written" "$tmp/log" && [ ! -e "$1/one/checkpoint.safetensors" ] || { cat "$tmp/log" >&2; return 1; }
}

t_streak_keeps_last_checkpoint() {
  # epoch 1 is saved; in epoch 2 steps 27-50 are poisoned: after 11 skipped in a row the run
  # stops, naming epoch 2 and where the streak began; checkpoint and metrics.csv stay as they were
  local rc run=$1/streak
  train --epochs 1 --out "$run" > /dev/null 2>&1 || return 1
  cp "$run/checkpoint.safetensors" "$tmp/ck1"; cp "$run/metrics.csv" "$tmp/m1"
  CLVAE_FAULT_NAN_BATCH=27-50 train --epochs 2 --resume --out "$run" > "$tmp/log" 2>&1; rc=$?
  [ $rc -eq 2 ] && grep -q "training stopped at epoch 2, batch 13: 11 steps in a row .* from epoch 2, batch 3 on" "$tmp/log" ||
    { cat "$tmp/log" >&2; return 1; }
  cmp -s "$run/checkpoint.safetensors" "$tmp/ck1" && cmp -s "$run/metrics.csv" "$tmp/m1" && finite "$run"
}

t_huge_lr_stops() {
  # lr = 1e6 overflows within two steps; the run stops with advice, without a checkpoint
  local rc
  train --epochs 1 --lr 1e6 --out "$1/lr" > "$tmp/log" 2>&1; rc=$?
  [ $rc -eq 2 ] && grep -q "training stopped at epoch 1, batch [0-9]*: .* NaN or infinite loss or gradient" "$tmp/log" &&
    grep -q "try a smaller learning rate (train.lr = 1e+06)" "$tmp/log" && [ ! -e "$1/lr/checkpoint.safetensors" ] ||
    { cat "$tmp/log" >&2; return 1; }
}

t_guard() {
  t_nan_step_skipped "$1" && t_nan_caught_in_one_step "$1" && t_streak_keeps_last_checkpoint "$1" && t_huge_lr_stops "$1"
}
mkdir -p "$tmp/strict" "$tmp/fast" "$tmp/folding"
check guard_strict_maths t_guard "$tmp/strict"
# -cl-fast-relaxed-math, as CLVAE_FAST_MATH=1 builds the kernels
CLVAE_FAST_MATH=1 check guard_fast_math t_guard "$tmp/fast"
# ... and a compiler that, as finite-only maths allows, folds isfinite/isnan/isinf to constants
mkdir -p "$tmp/cl"
cp cl/*.cl "$tmp/cl/"
{ printf '#define isfinite(x) 1\n#define isnan(x) 0\n#define isinf(x) 0\n'; cat cl/common.cl; } > "$tmp/cl/common.cl"
# (the macros redefine builtins, a warning: this build runs without -Werror)
CLVAE_CL_WERROR=0 CLVAE_FAST_MATH=1 CLVAE_KERNEL_DIR=$tmp/cl check guard_folding_compiler t_guard "$tmp/folding"

t_bad_settings() {
  local rc
  CLVAE_FAULT_NAN_BATCH=5x train --epochs 1 --out "$tmp/bad" > "$tmp/log" 2>&1; rc=$?
  [ $rc -eq 2 ] && grep -q "CLVAE_FAULT_NAN_BATCH='5x'" "$tmp/log" || { cat "$tmp/log" >&2; return 1; }
  CLVAE_FAULT_NAN_BATCH=9-3 train --epochs 1 --out "$tmp/bad" > "$tmp/log" 2>&1; rc=$?
  [ $rc -eq 2 ] && grep -q "CLVAE_FAULT_NAN_BATCH='9-3'" "$tmp/log" || { cat "$tmp/log" >&2; return 1; }
  train --epochs 1 --set train.max_skipped=-1 --out "$tmp/bad" > "$tmp/log" 2>&1; rc=$?
  [ $rc -eq 2 ] && grep -q "max_skipped" "$tmp/log" || { cat "$tmp/log" >&2; return 1; }
}
check bad_settings t_bad_settings

finish
