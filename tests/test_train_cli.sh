#!/usr/bin/env bash
# The runner end to end on the 8x8 digits: train, figures, eval, resume after Ctrl-C, bad input.
set -u
TEST_FILE=test_train_cli
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$tmp/cache}
cfg=$tmp/digits_vae.cfg
digits_cfg "$cfg"

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }

t_train_writes_everything() {
  local out
  out=$("$clvae" train "$cfg" --out "$tmp/run" 2>&1) || { echo "$out" >&2; return 1; }
  grep -q "^epoch 2/2" <<<"$out" || return 1
  for f in samples reconstructions manifold latent loss; do is_png "$tmp/run/$f.png" || return 1; done
  [ "$(head -1 "$tmp/run/metrics.csv")" = "epoch,train_loss,train_recon,train_kl,test_loss,test_recon,test_kl,seconds,images_per_s,beta" ] &&
    [ "$(wc -l < "$tmp/run/metrics.csv")" -eq 3 ] && [ "$(wc -l < "$tmp/run/latent.csv")" -eq 298 ]
}
check train_writes_everything t_train_writes_everything

t_figure_commands() {
  "$clvae" sample "$tmp/run" --n 10 --seed 3 --out "$tmp/s.png" >/dev/null && is_png "$tmp/s.png" &&
  "$clvae" reconstruct "$tmp/run/checkpoint.safetensors" --n 5 --out "$tmp/r.png" >/dev/null && is_png "$tmp/r.png" &&
  "$clvae" manifold "$tmp/run" --grid 5 --range 2 --out "$tmp/m.png" >/dev/null && is_png "$tmp/m.png" &&
  "$clvae" latent "$tmp/run" --out "$tmp/l.png" >/dev/null && is_png "$tmp/l.png" && [ -s "$tmp/l.csv" ] &&
  "$clvae" interpolate "$tmp/run" --from 0 --to 5 --steps 6 --out "$tmp/i.png" >/dev/null && is_png "$tmp/i.png" || return 1
  # the same seed gives the same samples, another seed other samples
  "$clvae" sample "$tmp/run" --n 10 --seed 3 --out "$tmp/s2.png" >/dev/null && cmp -s "$tmp/s.png" "$tmp/s2.png" &&
  "$clvae" sample "$tmp/run" --n 10 --seed 4 --out "$tmp/s3.png" >/dev/null && ! cmp -s "$tmp/s.png" "$tmp/s3.png"
}
check figure_commands t_figure_commands

t_eval_json_and_iwae() {
  local out
  out=$("$clvae" eval "$tmp/run" --iwae 10 --json) || return 1
  grep -q '"n": 297' <<<"$out" && grep -q '"log_px": -[0-9]' <<<"$out" && grep -q '"latent": "mean"' <<<"$out" || return 1
  "$clvae" eval "$tmp/run" --latent sample | grep -q "loss [0-9]"
}
check eval_json_and_iwae t_eval_json_and_iwae

t_bad_input_exit2() {
  local err rc
  printf '[model]\nkind = vae\n[conv]\nfilters = 0\n' > "$tmp/bad.cfg"
  err=$("$clvae" train "$tmp/bad.cfg" --out "$tmp/x" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "bad.cfg:3" <<<"$err" || return 1
  err=$("$clvae" train "$cfg" --set train.epochs=0 --out "$tmp/x" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "train.epochs=0" <<<"$err" || return 1
  err=$(CLVAE_DATA_DIR=$tmp/nowhere "$clvae" train "$cfg" --out "$tmp/x" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "make data" <<<"$err" && [ ! -e "$tmp/x" ] || return 1
  err=$("$clvae" sample "$tmp/nosuchrun" 2>&1); rc=$?
  [ $rc -eq 2 ] || return 1
  head -c 1000 "$tmp/run/checkpoint.safetensors" > "$tmp/trunc.safetensors"
  err=$("$clvae" sample "$tmp/trunc.safetensors" 2>&1); rc=$?
  [ $rc -eq 1 ] && grep -q "trunc.safetensors" <<<"$err" || return 1
  "$clvae" manifold "$tmp/run" --grid 1 >/dev/null 2>&1; [ $? -eq 2 ] || return 1
  "$clvae" interpolate "$tmp/run" --from 0 >/dev/null 2>&1; [ $? -eq 2 ] || return 1
  "$clvae" check-config "$cfg" | grep -q "total: 4420 parameters"
}
check bad_input_exit2 t_bad_input_exit2

t_init_from_weights() {
  # --init takes the weights of a safetensors file with clvae's names; shapes must match
  local out rc
  out=$("$clvae" train "$cfg" --epochs 1 --init "$tmp/run/checkpoint.safetensors" --out "$tmp/init" --no-figures 2>&1) || { echo "$out" >&2; return 1; }
  # starting from trained weights, the first epoch's loss is already below the first epoch of training from scratch
  local first_scratch first_init
  first_scratch=$(sed -n 2p "$tmp/run/metrics.csv" | cut -d, -f2)
  first_init=$(sed -n 2p "$tmp/init/metrics.csv" | cut -d, -f2)
  awk -v a="$first_init" -v b="$first_scratch" 'BEGIN { exit !(a < b) }' || return 1
  out=$("$clvae" train "$cfg" --set dense#1.units=16 --epochs 1 --init "$tmp/run/checkpoint.safetensors" --out "$tmp/init2" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "encoder.1.weight" <<<"$out"
}
check init_from_weights t_init_from_weights

t_sweep_end_to_end() {
  local out rc
  out=$("$clvae" sweep models/digits_ae.cfg --set latent.size=1,4 --epochs 2 --out "$tmp/sweep" 2>&1) || { echo "$out" >&2; return 1; }
  is_png "$tmp/sweep/sweep.png" && [ -s "$tmp/sweep/latent.size=1/checkpoint.safetensors" ] &&
    [ "$(grep -c '^| [14] |' "$tmp/sweep/sweep.md")" -eq 2 ] || return 1
  # the table's losses are the runs' last metrics rows
  local last; last=$(tail -1 "$tmp/sweep/latent.size=4/metrics.csv" | cut -d, -f5)
  grep -q "^| 4 | .* | $(printf '%.4f' "$last") |" "$tmp/sweep/sweep.md" || return 1
  # a sweep of latent.size has PCA beside it, in the model's unit (digits_ae: summed squared
  # error), falling from 1 to 4 components; a sweep of another key has no PCA column
  grep -q "PCA, as many components: test squared error per image |$" "$tmp/sweep/sweep.md" &&
    grep -q "the same unit as the model's test reconstruction (summed squared error)" "$tmp/sweep/sweep.md" || { cat "$tmp/sweep/sweep.md" >&2; return 1; }
  local p1 p4; p1=$(grep '^| 1 |' "$tmp/sweep/sweep.md" | awk -F'|' '{print $8}'); p4=$(grep '^| 4 |' "$tmp/sweep/sweep.md" | awk -F'|' '{print $8}')
  awk -v a="$p1" -v b="$p4" 'BEGIN { exit !(b + 0 > 0 && a + 0 > b + 0) }' || { echo "PCA $p1 $p4" >&2; return 1; }
  "$clvae" sweep models/digits_ae.cfg --set train.lr=0.001,0.002 --epochs 1 --n 2 --out "$tmp/sw_lr" > /dev/null 2>&1 &&
    ! grep -q PCA "$tmp/sw_lr/sweep.md" || return 1
  "$clvae" sweep models/digits_ae.cfg --set latent.size=1,0 --out "$tmp/sw2" >/dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/sw2" ]
}
check sweep_end_to_end t_sweep_end_to_end

t_bench_runs() {
  local out
  out=$("$clvae" bench "$cfg" --steps 2 --profile) || return 1
  grep -q "^training: .* images/s" <<<"$out" && grep -q "^sampling:" <<<"$out" &&
    grep -q "per layer" <<<"$out" && grep -q "^  5   dense" <<<"$out" || return 1
  # GB/s per pass beside GFLOP/s, against a measured copy bandwidth
  grep -q "copy bandwidth of [0-9.]* GB/s" <<<"$out" && ! grep -q "bandwidth of 0.0 GB/s" <<<"$out" &&
    grep -q "^  #   layer  *output  *fwd ms  *share  *GFLOP/s  *GB/s  *bwd ms  *share  *GFLOP/s  *GB/s$" <<<"$out" &&
    awk '$1 == 2 && $2 == "dense" && $3 ~ /x/ { ok = NF == 11 && $7 > 0 && $11 > 0 } END { exit !ok }' <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" bench "$cfg" --steps 1 --profile --json) || return 1
  grep -q '"copy_gb_s": [0-9]*[1-9][0-9.]*, "layers"' <<<"$out" &&
    grep -q '"layer": 5, "kind": "dense", [^]]*"bytes_forward": [1-9][0-9]*, "bytes_backward": [1-9]' <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" bench "$cfg" --steps 1 --batch 7 --json) || return 1
  grep -q '"batch": 7' <<<"$out" && grep -q '"train_images_per_s": [0-9]' <<<"$out" || return 1
  "$clvae" bench "$cfg" --steps 0 >/dev/null 2>&1; [ $? -eq 2 ]
}
check bench_runs t_bench_runs

# bench --profile counts per step what the timed steps ask of the device: the digits VAE's
# training step launches kernels and makes GEMM calls but moves nothing and waits for nothing;
# a decoding batch uploads z (64 x 2 floats), downloads the images (64 x 64) and waits twice
t_bench_counters() {
  local out row
  out=$("$clvae" bench "$cfg" --steps 2 --profile) || return 1
  grep -q "^ *launches GEMM calls  uploads *downloads *copies *waits$" <<<"$out" || { echo "$out" >&2; return 1; }
  row=$(grep "^  training: " <<<"$out") || return 1
  awk '{ exit !($2 > 0 && $3 > 0 && $4 == 0 && $7 == 0 && $10 == 0 && $NF == 0) }' <<<"$row" || { echo "$row" >&2; return 1; }
  grep -q "^  decoding: *[1-9][0-9]* *[1-9][0-9]*  1 (512 B) *1 (16.0 KiB) *0 (0 B) *2$" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" bench "$cfg" --steps 1 --json) || return 1
  grep -q '"train_per_step": {"launches": [1-9][0-9.]*, "gemm_calls": [1-9][0-9.]*, "uploads": 0.00, "upload_bytes": 0, "downloads": 0.00, "download_bytes": 0, "copies": 0.00, "copy_bytes": 0, "waits": 0.00}' <<<"$out" &&
    grep -q '"sample_per_step": {"launches": [1-9][0-9.]*, .*"upload_bytes": 512, .*"waits": 2.00}' <<<"$out" || { echo "$out" >&2; return 1; }
}
check bench_counters t_bench_counters

# bench --profile's kernel table: clvae's own launches per step by kernel add up to the counters'
# launches per step (CLBlast's calls are a row of their own), every row with a time
t_bench_kernels() {
  local out launches sum
  out=$("$clvae" bench "$cfg" --steps 2 --profile) || return 1
  grep -q "^per kernel (device time per training step" <<<"$out" &&
    grep -q "^  kernel  *launches  *ms  *share$" <<<"$out" || { echo "$out" >&2; return 1; }
  launches=$(grep "^  training: " <<<"$out" | awk '{ print $2 }')
  sum=$(awk '/^per kernel/ { on = 1; next } on && NF == 4 && $1 != "kernel" && $1 != "CLBlast" { s += $2; if ($3 + 0 < 0) bad = 1 }
             END { if (bad) print -1; else print s }' <<<"$out")
  [ -n "$launches" ] && [ "$sum" = "$launches" ] || { echo "launches $launches, kernel rows $sum" >&2; echo "$out" >&2; return 1; }
  grep -q "^  act_backward  *[1-9]" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" bench "$cfg" --steps 1 --profile --json) || return 1
  grep -q '"kernels": \[{"kernel": "[a-z_0-9]*", "launches_per_step": [0-9.]*, "ms_per_step": [0-9.]*}' <<<"$out" || { echo "$out" >&2; return 1; }
}
check bench_kernels t_bench_kernels

t_batchnorm_resume_bit_exact() {
  # batch normalization's running statistics travel in the checkpoint: two epochs straight and
  # one epoch then --resume give the same parameters, optimizer state and buffers
  local bn=$tmp/digits_bn.cfg a b out
  sed 's/^activation = relu$/activation = identity\n[batchnorm]\nactivation = relu/' "$cfg" |
    sed 's/\\n/\n/g' > "$bn"
  [ "$(grep -c '^\[batchnorm\]' "$bn")" -eq 2 ] || return 1
  "$clvae" train "$bn" --limit 640 --no-figures --out "$tmp/bn2" > /dev/null 2>&1 &&
    "$clvae" train "$bn" --limit 640 --epochs 1 --no-figures --out "$tmp/bn1" > /dev/null 2>&1 &&
    "$clvae" train "$bn" --limit 640 --epochs 2 --resume --no-figures --out "$tmp/bn1" > /dev/null 2>&1 || return 1
  out=$("$clvae" inspect "$tmp/bn2")
  grep -q "^encoder.2.running_var *F32 *\[32\]" <<<"$out" &&
    grep -q "^encoder.2.num_batches_tracked *F32 *\[\] " <<<"$out" &&
    grep -q "^buffers sha256" <<<"$out" || { echo "$out" >&2; return 1; }
  a=$(weights_hash "$tmp/bn2"); b=$(weights_hash "$tmp/bn1")
  [ "$(wc -w <<<"$a")" -eq 3 ] && [ "$a" = "$b" ] || { echo "straight $a / resumed $b" >&2; return 1; }
}
check batchnorm_resume_bit_exact t_batchnorm_resume_bit_exact

t_test_limit_and_every() {
  # the test pass covers the first --test-limit examples, every --test-every epochs and after
  # the last one; an epoch without one has nan test columns
  local out
  out=$("$clvae" train "$cfg" --epochs 3 --test-limit 50 --test-every 2 --no-figures --out "$tmp/tl" 2>&1) || { echo "$out" >&2; return 1; }
  [ "$(grep -c "^  test pass: 50 images in" <<<"$out")" -eq 2 ] && grep -q "^epoch 1/3 .*(no test pass)" <<<"$out" || { echo "$out" >&2; return 1; }
  [ "$(sed -n 2p "$tmp/tl/metrics.csv" | cut -d, -f5-7)" = "nan,nan,nan" ] &&
    sed -n 3p "$tmp/tl/metrics.csv" | cut -d, -f5 | grep -q "^[0-9]" &&
    sed -n 4p "$tmp/tl/metrics.csv" | cut -d, -f5 | grep -q "^[0-9]" || { cat "$tmp/tl/metrics.csv" >&2; return 1; }
  # 50 test images give another test loss than all of them
  "$clvae" train "$cfg" --epochs 1 --no-figures --out "$tmp/tl_all" > /dev/null 2>&1 &&
    "$clvae" train "$cfg" --epochs 1 --test-limit 50 --no-figures --out "$tmp/tl_50" > /dev/null 2>&1 || return 1
  [ "$(sed -n 2p "$tmp/tl_all/metrics.csv" | cut -d, -f2-4)" = "$(sed -n 2p "$tmp/tl_50/metrics.csv" | cut -d, -f2-4)" ] &&
    [ "$(sed -n 2p "$tmp/tl_all/metrics.csv" | cut -d, -f5)" != "$(sed -n 2p "$tmp/tl_50/metrics.csv" | cut -d, -f5)" ] || return 1
  "$clvae" train "$cfg" --test-every 0 --out "$tmp/tl_bad" > /dev/null 2>&1; [ $? -eq 2 ] && [ ! -e "$tmp/tl_bad" ]
}
check test_limit_and_every t_test_limit_and_every

t_ctrl_c_at_the_edges() {
  # one rule for a stop request (the test hook sets the flag a Ctrl-C sets): after the last
  # batch of the last epoch, in a test pass, or while the figures are drawn, the run stops
  # there, keeps its checkpoint, says where, exits 130; --resume finishes it (the same weights
  # as a run never stopped) and `clvae figures RUN` draws what was left out
  local out rc
  "$clvae" train "$cfg" --no-figures --out "$tmp/edge_ref" > /dev/null 2>&1 || return 1
  for hook in step:48 test:1 test:2; do
    out=$(CLVAE_FAULT_STOP=$hook "$clvae" train "$cfg" --out "$tmp/edge_$hook" 2>&1); rc=$?
    [ $rc -eq 130 ] && grep -q "^interrupted: the checkpoint in .* holds the state (epoch" <<<"$out" &&
      [ ! -e "$tmp/edge_$hook/samples.png" ] || { echo "$hook: $rc $out" >&2; return 1; }
    out=$("$clvae" train "$tmp/edge_$hook" --resume 2>&1) || { echo "$hook resume: $out" >&2; return 1; }
    [ "$(wc -l < "$tmp/edge_$hook/metrics.csv")" -eq 3 ] && is_png "$tmp/edge_$hook/samples.png" &&
      [ "$(weights_hash "$tmp/edge_$hook")" = "$(weights_hash "$tmp/edge_ref")" ] || { echo "$hook: $out" >&2; return 1; }
  done
  out=$(CLVAE_FAULT_STOP_FIGURES=1 "$clvae" train "$cfg" --out "$tmp/edge_fig" 2>&1); rc=$?
  [ $rc -eq 130 ] && grep -q "interrupted while drawing the figures" <<<"$out" &&
    is_png "$tmp/edge_fig/samples.png" && [ ! -e "$tmp/edge_fig/loss.png" ] || { echo "figures: $rc $out" >&2; return 1; }
  out=$("$clvae" figures "$tmp/edge_fig") && is_png "$tmp/edge_fig/loss.png" &&
    is_png "$tmp/edge_fig/latent.png" && grep -q "^figures: .*loss.png" <<<"$out" || { echo "$out" >&2; return 1; }
  "$clvae" figures "$tmp/nowhere" > /dev/null 2>&1; [ $? -eq 2 ]
}
check ctrl_c_at_the_edges t_ctrl_c_at_the_edges

t_steps_csv() {
  # steps.csv: a row per loss readback (every 20 steps and at each epoch's end) with the mean
  # losses of the batches since the row before; written with each checkpoint, so that a resumed
  # run keeps the rows up to its checkpoint and drops later ones a killed run left
  local out
  "$clvae" train "$cfg" --no-figures --out "$tmp/steps" > /dev/null 2>&1 || return 1
  [ "$(head -1 "$tmp/steps/steps.csv")" = "step,epoch,batch,examples,loss,recon,kl,lr,images_per_s" ] &&
    [ "$(cut -d, -f1 "$tmp/steps/steps.csv" | tail -n +2 | tr '\n' ' ')" = "20 24 44 48 " ] &&
    [ "$(sed -n 3p "$tmp/steps/steps.csv" | cut -d, -f2-4)" = "1,24,1500" ] || { cat "$tmp/steps/steps.csv" >&2; return 1; }
  CLVAE_FAULT_STOP=step:30 "$clvae" train "$cfg" --no-figures --out "$tmp/steps2" > /dev/null 2>&1
  echo "999,9,9,9,1,1,1,0.003,1" >> "$tmp/steps2/steps.csv"  # as a killed run could leave it
  "$clvae" train "$tmp/steps2" --resume --no-figures > /dev/null 2>&1 || return 1
  [ "$(cut -d, -f1 "$tmp/steps2/steps.csv" | tail -n +2 | tr '\n' ' ')" = "20 24 30 48 " ] || { cat "$tmp/steps2/steps.csv" >&2; return 1; }
  # the first rows are the same numbers
  [ "$(sed -n 2,3p "$tmp/steps/steps.csv" | cut -d, -f1-7)" = "$(sed -n 2,3p "$tmp/steps2/steps.csv" | cut -d, -f1-7)" ]
}
check steps_csv t_steps_csv

t_ctrl_c_then_resume() {
  # a run long enough to be interrupted; SIGINT saves a checkpoint, --resume finishes it
  local rc out
  "$clvae" train "$cfg" --epochs 400 --out "$tmp/long" --no-figures > "$tmp/long.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do [ -s "$tmp/long/metrics.csv" ] && break; sleep 0.1; done
  kill -INT $pid; wait $pid; rc=$?
  [ $rc -eq 130 ] && grep -q "interrupted: the checkpoint" "$tmp/long.log" || { cat "$tmp/long.log" >&2; return 1; }
  out=$("$clvae" train "$cfg" --epochs 6 --out "$tmp/long" --resume --no-figures 2>&1)
  # a run interrupted after its 6th epoch has nothing left to do
  grep -q "resuming" <<<"$out" && grep -q "done:" <<<"$out"
}
check ctrl_c_then_resume t_ctrl_c_then_resume

# [train] snapshot_every: the latent scatter and its points every N epochs and after the last,
# into RUN/latent/; `latent --over-epochs` draws them side by side; a run without them is told
# how to make them (exit 2).
t_latent_snapshots() {
  local out rc
  "$clvae" train "$cfg" --limit 640 --epochs 3 --set train.snapshot_every=2 --no-figures --out "$tmp/snap" > /dev/null 2>&1 || return 1
  [ "$(cd "$tmp/snap/latent" && echo *)" = "epoch_002.csv epoch_002.png epoch_003.csv epoch_003.png" ] || { ls "$tmp/snap/latent" >&2; return 1; }
  [ "$(head -1 "$tmp/snap/latent/epoch_002.csv")" = "index,label,z0,z1" ] &&
    [ "$(wc -l < "$tmp/snap/latent/epoch_003.csv")" -eq 298 ] || return 1
  out=$("$clvae" latent "$tmp/snap" --over-epochs) && grep -q "wrote $tmp/snap/latent_epochs.png" <<<"$out" &&
    [ "$(head -c 8 "$tmp/snap/latent_epochs.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { echo "$out" >&2; return 1; }
  "$clvae" train "$cfg" --limit 640 --epochs 1 --no-figures --out "$tmp/nosnap" > /dev/null 2>&1 || return 1
  out=$("$clvae" latent "$tmp/nosnap" --over-epochs --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/x.png" ] && grep -q "no latent snapshots.*snapshot_every" <<<"$out" || { echo "$rc $out" >&2; return 1; }
}
check latent_snapshots t_latent_snapshots

# --log-json: stdout holds only JSON lines, one per loss readback (log every 20 batches and at
# each epoch's end: 4 for 2 epochs of the 24 batches of 64 of the 1,500 digits), the human
# lines go to stderr.
t_log_json() {
  local out
  out=$("$clvae" train "$cfg" --limit 1600 --batch 64 --epochs 2 --no-figures --log-json --out "$tmp/lj" 2> "$tmp/lj.err") || return 1
  [ "$(wc -l <<<"$out")" -eq 4 ] && ! grep -qv '^{"epoch": [12], "batch": [0-9]*, "batches": 24, "step": [0-9]*, "examples": [0-9]*, "loss": [0-9.e+-]*, "images_per_s": [0-9.]*, "seconds": [0-9.]*}$' <<<"$out" &&
    [ "$(sed -n 's/.*"step": \([0-9]*\).*/\1/p' <<<"$out" | tr '\n' ' ')" = "20 24 44 48 " ] &&
    grep -q "^epoch 2/2" "$tmp/lj.err" || { echo "$out" >&2; cat "$tmp/lj.err" >&2; return 1; }
}
check log_json t_log_json

# The first epoch with an empty kernel cache says how long the kernel builds took (they are in
# its time); a second run loads them from the cache and says nothing of builds.
t_kernel_build_time() {
  local out
  out=$(XDG_CACHE_HOME="$tmp/fresh_cache" "$clvae" train "$cfg" --limit 640 --epochs 1 --no-figures --out "$tmp/kb1" 2>&1) &&
    grep -q "^  kernels: [1-9][0-9]* built from source, 0 loaded from the cache, in [0-9.]* s" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$(XDG_CACHE_HOME="$tmp/fresh_cache" "$clvae" train "$cfg" --limit 640 --epochs 1 --no-figures --out "$tmp/kb2" 2>&1) &&
    ! grep -q "[1-9][0-9]* built from source" <<<"$out" || { echo "$out" >&2; return 1; }
}
check kernel_build_time t_kernel_build_time

# On a terminal the bar stays alive through batches longer than a second: about once a second
# it shows the elapsed time and the batches the device finished (two batches of 1,024 of the
# thesis VAE, several seconds each here), and no loss before the first one is read.
t_bar_heartbeat() {
  local bars
  # six batches of 1024: several seconds of training even at the thesis VAE's ~1000 images/s
  script -qfec "$clvae train models/mnist_vae.cfg --batch 1024 --limit 6144 --epochs 1 --test-limit 128 --no-figures --out $tmp/hb" "$tmp/hb.tty" > /dev/null 2>&1 || return 1
  bars=$(tr '\r' '\n' < "$tmp/hb.tty" | grep -a "epoch 1/1 \[")
  [ "$(sed -n 's/.*  \([0-9]*:[0-9][0-9]\), ETA .*/\1/p' <<<"$bars" | sort -u | wc -l)" -ge 4 ] &&
    grep -aq "\] 0/6  loss -  [0-9]*:[0-9][0-9], ETA -:--" <<<"$bars" && grep -aq "\] 1/6  loss -  " <<<"$bars" &&
    grep -aq "\] 6/6  loss [0-9.]*  [0-9]* img/s  " <<<"$bars" || { cat -v <<<"$bars" >&2; return 1; }
}
check bar_heartbeat t_bar_heartbeat

finish
