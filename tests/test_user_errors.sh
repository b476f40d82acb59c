#!/usr/bin/env bash
# What a new user hits (issue 17): errors before any work with the real reason, wrong kinds of
# file, failed starts that leave nothing, resume messages, small message fixes, --json.
set -u
TEST_FILE=test_user_errors
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-$PWD/bin/clvae}
case $clvae in /*) ;; *) clvae=$PWD/$clvae ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/cache CLVAE_TUNING_DIR=$tmp/tuning
unset CLVAE_DEVICE CLVAE_KERNEL_DIR CLVAE_KERNEL_CACHE
cfg=$tmp/digits.cfg
digits_cfg "$cfg"
opts=(--epochs 1 --limit 256 --no-figures)
"$clvae" train "$cfg" "${opts[@]}" --out "$tmp/base" > "$tmp/base.log" 2>&1 ||
  { cat "$tmp/base.log"; fail setup "the first run failed"; finish; exit; }

# item 3: --out checked before any work, with the real reason, for every command with --out
t_out_checked_first() {
  local err rc
  err=$("$clvae" train "$cfg" "${opts[@]}" --out README.md 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "README.md is a file, not a folder" <<<"$err" && ! grep -q "^epoch" <<<"$err" ||
    { echo "$err" >&2; return 1; }
  err=$("$clvae" train "$cfg" "${opts[@]}" --out README.md/sub 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "is a file, not a folder" <<<"$err" || { echo "$err" >&2; return 1; }
  err=$("$clvae" sample "$tmp/base" --out README.md/s.png 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "is a file, not a folder" <<<"$err" || { echo "$err" >&2; return 1; }
  err=$("$clvae" sample "$tmp/base" --out "$tmp/nosuch/s.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "No such file or directory" <<<"$err" || { echo "$err" >&2; return 1; }
  err=$("$clvae" compare "$tmp/base" --out README.md --iwae 0 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "is a file, not a folder" <<<"$err" && ! grep -q "compare: " <<<"$err" ||
    { echo "$err" >&2; return 1; }
  err=$("$clvae" sweep "$cfg" --set latent.size=2,3 --epochs 1 --limit 256 --out README.md 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "is a file, not a folder" <<<"$err" && ! grep -q "training" <<<"$err" ||
    { echo "$err" >&2; return 1; }
  if [ "$(id -u)" != 0 ]; then
    mkdir -p "$tmp/ro" && chmod 555 "$tmp/ro"
    err=$("$clvae" train "$cfg" "${opts[@]}" --out "$tmp/ro/run" 2>&1); rc=$?
    chmod 755 "$tmp/ro"
    [ $rc -eq 2 ] && grep -q "Permission denied" <<<"$err" || { echo "$err" >&2; return 1; }
  fi
}
check out_checked_first t_out_checked_first

# item 4: the wrong kind of file, RUN --resume without the config, --init RUN
t_wrong_kind_of_file() {
  local err rc
  err=$("$clvae" sample models/mnist_vae.cfg 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "is a model config file, not a checkpoint: train it first" <<<"$err" &&
    ! grep -q "header length" <<<"$err" || { echo "$err" >&2; return 1; }
  err=$("$clvae" inspect README.md 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "is a text file, not a checkpoint" <<<"$err" || { echo "$err" >&2; return 1; }
  err=$("$clvae" train "$tmp/base" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "is a run, not a config file: continue it with" <<<"$err" || { echo "$err" >&2; return 1; }
}
check wrong_kind_of_file t_wrong_kind_of_file

t_resume_run_and_init_run() {
  local out
  cp -r "$tmp/base" "$tmp/cont"
  out=$("$clvae" train "$tmp/cont" --resume --epochs 2 --no-figures 2>&1) || { echo "$out" >&2; return 1; }
  grep -q "resuming $tmp/cont: epoch 1 of 2 done; continuing with epoch 2 at batch 1" <<<"$out" &&
    grep -q "^epoch 2/2" <<<"$out" && [ "$(wc -l < "$tmp/cont/metrics.csv")" -eq 3 ] || { echo "$out" >&2; return 1; }
  out=$("$clvae" train "$cfg" "${opts[@]}" --init "$tmp/base" --out "$tmp/fromrun" 2>&1) || { echo "$out" >&2; return 1; }
  [ -f "$tmp/fromrun/checkpoint.safetensors" ]
}
check resume_run_and_init_run t_resume_run_and_init_run

# item 5: a failed start leaves nothing behind
t_failed_start_leaves_nothing() {
  local err rc
  sed 's/units = 32/units = 16/' "$cfg" > "$tmp/other.cfg"
  err=$("$clvae" train "$tmp/other.cfg" "${opts[@]}" --init "$tmp/base" --out "$tmp/new/a/b" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "but the model needs" <<<"$err" && [ ! -e "$tmp/new" ] || { echo "$err" >&2; ls -R "$tmp/new" >&2; return 1; }
  err=$("$clvae" train "$cfg" "${opts[@]}" --init "$tmp/nosuch" --out "$tmp/new2" 2>&1); rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/new2" ] || { echo "$err" >&2; return 1; }
  err=$("$clvae" train "$cfg" "${opts[@]}" --resume --out "$tmp/missing" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "cannot resume: no checkpoint $tmp/missing/checkpoint.safetensors" <<<"$err" &&
    [ ! -e "$tmp/missing" ] || { echo "$err" >&2; return 1; }
  # a folder that was there before stays
  mkdir "$tmp/there"
  "$clvae" train "$tmp/other.cfg" "${opts[@]}" --init "$tmp/base" --out "$tmp/there" > /dev/null 2>&1
  [ -d "$tmp/there" ]
}
check failed_start_leaves_nothing t_failed_start_leaves_nothing

# item 6: a finished run has nothing to do; inspect says the position plainly
t_nothing_to_do() {
  local out rc
  out=$("$clvae" train "$cfg" "${opts[@]}" --out "$tmp/base" --resume 2>&1); rc=$?
  [ $rc -eq 0 ] && grep -q "$tmp/base is at epoch 1 of 1: nothing to do (raise --epochs to go on)" <<<"$out" &&
    ! grep -q "^training" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" inspect "$tmp/base" | grep "^position:")
  [ "$out" = "position: finished: 1 of 1 epochs done (4 steps); --resume has nothing to do unless --epochs is raised" ] ||
    { echo "$out" >&2; return 1; }
}
check nothing_to_do t_nothing_to_do

# item 7: the small ones
t_small_messages() {
  local err rc out
  err=$("$clvae" trian 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "no command 'trian' (did you mean train?)" <<<"$err" || { echo "$err" >&2; return 1; }
  err=$("$clvae" train "$cfg" --epoch 3 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "unknown option '--epoch' (did you mean --epochs?)" <<<"$err" || { echo "$err" >&2; return 1; }
  err=$("$clvae" sample "$tmp/base" --sed 3 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "did you mean --seed?" <<<"$err" || { echo "$err" >&2; return 1; }
  err=$("$clvae" inspect "$tmp/base" extra 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "unexpected argument 'extra'" <<<"$err" && ! grep -q "unknown option" <<<"$err" ||
    { echo "$err" >&2; return 1; }
  err=$("$clvae" check-config "$cfg" --lr -1 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "error: --lr -1: must be" <<<"$err" && ! grep -q "digits.cfg" <<<"$err" ||
    { echo "$err" >&2; return 1; }
  # source locations only with -v
  err=$("$clvae" check-config "$tmp/nosuch.cfg" 2>&1); rc=$?
  [ $rc -eq 2 ] && ! grep -q "\.c:[0-9]*)" <<<"$err" || { echo "$err" >&2; return 1; }
  err=$("$clvae" -v check-config "$tmp/nosuch.cfg" 2>&1)
  grep -q "\.c:[0-9]*)" <<<"$err" || { echo "$err" >&2; return 1; }
  err=$(CLVAE_DEVICE=nosuchdevice "$clvae" selftest 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "CLVAE_DEVICE=nosuchdevice" <<<"$err" || { echo "$err" >&2; return 1; }
  out=$("$clvae" help help); rc=$?
  [ $rc -eq 0 ] && grep -q "usage: clvae help" <<<"$out" || return 1
  # --out's extension chooses the format
  err=$("$clvae" sample "$tmp/base" --out "$tmp/s.jpg" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q ".png (an image) or .npy" <<<"$err" && [ ! -e "$tmp/s.jpg" ] || { echo "$err" >&2; return 1; }
  "$clvae" sample "$tmp/base" --n 4 --out "$tmp/s.npy" > /dev/null || return 1
  [ "$(head -c 6 "$tmp/s.npy" | tail -c 5)" = "NUMPY" ] && grep -aq "'descr': '|u1'" "$tmp/s.npy" || return 1
  "$clvae" sample "$tmp/base" --n 4 --out "$tmp/s.png" > /dev/null &&
    [ "$(head -c 4 "$tmp/s.png" | tail -c 3)" = "PNG" ] || return 1
  # denoise says its p
  out=$("$clvae" denoise "$tmp/base" --noise mask --p 0.3 --count 2 --out "$tmp/d.png") || return 1
  grep -q "mask noise (p 0.3)" <<<"$out" || { echo "$out" >&2; return 1; }
  # the default device among pocl's pthread and basic: the one with more compute units
  out=$(POCL_DEVICES="basic pthread" "$clvae" devices) || return 1
  grep -q "^selected: 1 (pthread" <<<"$out" && grep -q "the one with the most compute units" <<<"$out" ||
    { echo "$out" >&2; return 1; }
}
check small_messages t_small_messages

t_eval_iwae_classifier_refused() {
  local err rc
  cat > "$tmp/cls.cfg" <<'CFG'
[model]
name = digits_cls
kind = classifier
[data]
train = digits:train
test = digits:test
[train]
epochs = 1
batch = 64
[input]
channels = 1
height = 8
width = 8
[flatten]
[dense]
units = 10
activation = identity
CFG
  "$clvae" train "$tmp/cls.cfg" --limit 256 --out "$tmp/cls" > "$tmp/cls.log" 2>&1 || { cat "$tmp/cls.log" >&2; return 1; }
  err=$("$clvae" eval "$tmp/cls" --iwae 5 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "is a classifier: --iwae applies to a VAE" <<<"$err" || { echo "$err" >&2; return 1; }
  "$clvae" eval "$tmp/cls" > /dev/null
}
check eval_iwae_classifier_refused t_eval_iwae_classifier_refused

# item 10: the GEMM tuning note once per device
t_tuning_note_once() {
  local n1 n2
  rm -rf "$tmp/tn"
  CLVAE_TUNING_DIR=$tmp/tn "$clvae" train "$cfg" "${opts[@]}" --out "$tmp/tn1" > "$tmp/tn1.log" 2>&1 || return 1
  CLVAE_TUNING_DIR=$tmp/tn "$clvae" train "$cfg" "${opts[@]}" --out "$tmp/tn2" > "$tmp/tn2.log" 2>&1 || return 1
  n1=$(grep -c "clvae tune" "$tmp/tn1.log"); n2=$(grep -c "clvae tune" "$tmp/tn2.log")
  [ "$n1" -eq 1 ] && [ "$n2" -eq 0 ] || { cat "$tmp/tn1.log" "$tmp/tn2.log" >&2; return 1; }
}
check tuning_note_once t_tuning_note_once

# item 15: --json for inspect, compare and the end of train
t_json_outputs() {
  local out
  out=$("$clvae" train "$cfg" "${opts[@]}" --out "$tmp/js" --json 2> "$tmp/js.err") || { cat "$tmp/js.err" >&2; return 1; }
  [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q '"status": "done"' <<<"$out" &&
    grep -q '"train": {"loss": [0-9.]*, "recon": [0-9.]*, "kl": [0-9.]*}' <<<"$out" &&
    grep -q "\"checkpoint\": \"$tmp/js/checkpoint.safetensors\"" <<<"$out" && grep -q "^epoch 1/1" "$tmp/js.err" ||
    { echo "$out" >&2; return 1; }
  out=$("$clvae" inspect "$tmp/js" --json) || return 1
  grep -q '"position": {"epochs_done": 1, "epochs": 1, "step": 4, "batch": 0, "examples_seen": 0, "finished": true}' <<<"$out" &&
    grep -q '"tensors": \[{"name": "encoder.1.weight", "dtype": "F32", "shape": \[32, 64\]' <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" compare "$tmp/js" "$tmp/base" --iwae 0 --n 100 --out "$tmp/cmp" --json 2>/dev/null) || return 1
  grep -q '"runs": \[{"name": ".*js", "model": "digits_vae", "kind": "vae"' <<<"$out" &&
    grep -q '"table": ".*cmp/compare.md"' <<<"$out" && [ -f "$tmp/cmp/compare.md" ] || { echo "$out" >&2; return 1; }
  if command -v python3 > /dev/null; then
    for c in "inspect $tmp/js --json" "compare $tmp/js --iwae 0 --n 50 --out $tmp/cmp2 --json"; do
      "$clvae" $c 2>/dev/null | python3 -c 'import json,sys; json.load(sys.stdin)' || return 1
    done
    "$clvae" train "$cfg" "${opts[@]}" --out "$tmp/js2" --json 2>/dev/null | python3 -c 'import json,sys; json.load(sys.stdin)' || return 1
  fi
}
check json_outputs t_json_outputs

finish
