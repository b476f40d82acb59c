#!/usr/bin/env bash
# The diffusion model from the command line: a short run of a small U-Net on the 8x8 digits
# lowers its loss, `sample` draws with DDIM (--steps, --eta) and ancestral DDPM, deterministic for
# a seed; bad configs and sampler options exit 2 before any work; models/mnist_ddpm.cfg trains a
# few batches and samples.
set -u
TEST_FILE=test_ddpm_cli
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$tmp/cache}
data=${CLVAE_DATA_DIR:-data}

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }
less() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
col() { awk -F, -v r="$2" -v n="$3" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == r + 1 { print $c[n] }' "$1/metrics.csv"; }

digits_ddpm_cfg "$tmp/d.cfg"

t_digits_loss_falls() {
  local out
  out=$("$clvae" train "$tmp/d.cfg" --no-figures --out "$tmp/run" 2>&1) || { echo "$out" >&2; return 1; }
  [ "$(head -1 "$tmp/run/metrics.csv" | cut -d, -f1-5)" = "epoch,train_loss,train_mse,test_loss,test_mse" ] &&
    grep -q "^epoch 3/3  loss [0-9.]* (mse [0-9.]*)  test loss" <<<"$out" || { echo "$out" >&2; return 1; }
  less "$(col "$tmp/run" 3 train_loss)" "$(col "$tmp/run" 1 train_loss)" &&
    less "$(col "$tmp/run" 3 test_loss)" "$(col "$tmp/run" 1 test_loss)" || { cat "$tmp/run/metrics.csv" >&2; return 1; }
  out=$("$clvae" check-config "$tmp/d.cfg") && grep -q "denoising diffusion model" <<<"$out" &&
    grep -q "^diffusion: T = 100 steps, linear schedule" <<<"$out" || { echo "$out" >&2; return 1; }
}
check digits_loss_falls t_digits_loss_falls

t_sample_options() {
  local out rc
  "$clvae" sample "$tmp/run" --n 16 --out "$tmp/s1.png" > /dev/null && is_png "$tmp/s1.png" &&
    "$clvae" sample "$tmp/run" --n 16 --out "$tmp/s2.png" > /dev/null && cmp -s "$tmp/s1.png" "$tmp/s2.png" || return 1
  "$clvae" sample "$tmp/run" --n 16 --steps 10 --out "$tmp/s3.png" > /dev/null && ! cmp -s "$tmp/s1.png" "$tmp/s3.png" &&
    "$clvae" sample "$tmp/run" --n 16 --steps 100 --eta 1 --seed 4 --out "$tmp/s4.png" > /dev/null &&
    "$clvae" sample "$tmp/run" --n 16 --steps 100 --eta 1 --seed 4 --out "$tmp/s5.png" > /dev/null && cmp -s "$tmp/s4.png" "$tmp/s5.png" &&
    "$clvae" sample "$tmp/run" --n 8 --ancestral --out "$tmp/s6.png" > /dev/null && is_png "$tmp/s6.png" || return 1
  # x_0 clipped at each step by default; --no-clip draws other images
  "$clvae" sample "$tmp/run" --n 16 --no-clip --out "$tmp/s7.png" > /dev/null && is_png "$tmp/s7.png" &&
    ! cmp -s "$tmp/s1.png" "$tmp/s7.png" || return 1
  for bad in "--steps 101" "--steps 1" "--eta 1.5" "--ancestral --steps 10"; do
    out=$("$clvae" sample "$tmp/run" $bad --out "$tmp/x.png" 2>&1); rc=$?
    [ $rc -eq 2 ] && [ ! -e "$tmp/x.png" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
  # another kind refuses them
  "$clvae" train models/digits_ae.cfg --epochs 1 --no-figures --out "$tmp/ae" > /dev/null 2>&1 || return 1
  for opt in "--steps 10" "--no-clip"; do
    out=$("$clvae" sample "$tmp/ae" $opt --out "$tmp/x.png" 2>&1); rc=$?
    [ $rc -eq 2 ] && [ ! -e "$tmp/x.png" ] && grep -q "a diffusion model's" <<<"$out" || { echo "$opt: $rc $out" >&2; return 1; }
  done
}
check sample_options t_sample_options

# [train] ema: the weights' moving average is saved with the training state (optimizer.ema),
# resumes bit-exact, leaves the training itself alone (the same weights as without it), and is
# what sample draws with.
t_ema_resume_bit_exact() {
  local out a b c
  "$clvae" train "$tmp/d.cfg" --set train.ema=0.9 --epochs 2 --limit 640 --no-figures --out "$tmp/e2" > /dev/null 2>&1 &&
    "$clvae" train "$tmp/d.cfg" --set train.ema=0.9 --epochs 1 --limit 640 --no-figures --out "$tmp/e1" > /dev/null 2>&1 &&
    "$clvae" train "$tmp/e1" --resume --epochs 2 --no-figures > /dev/null 2>&1 &&
    "$clvae" train "$tmp/d.cfg" --epochs 2 --limit 640 --no-figures --out "$tmp/n2" > /dev/null 2>&1 || return 1
  out=$("$clvae" inspect "$tmp/e2")
  grep -q "^optimizer.ema *F32 *\[[0-9]*\]" <<<"$out" || { echo "$out" >&2; return 1; }
  a=$(weights_hash "$tmp/e2"); b=$(weights_hash "$tmp/e1"); c=$(weights_hash "$tmp/n2")
  [ "$(wc -w <<<"$a")" -eq 2 ] && [ "$a" = "$b" ] || { echo "straight $a / resumed $b" >&2; return 1; }
  [ "${a%% *}" = "${c%% *}" ] && [ "$a" != "$c" ] || { echo "with $a / without $c" >&2; return 1; }
  "$clvae" sample "$tmp/e2" --n 8 --steps 10 --out "$tmp/e.png" > /dev/null &&
    "$clvae" sample "$tmp/n2" --n 8 --steps 10 --out "$tmp/n.png" > /dev/null &&
    ! cmp -s "$tmp/e.png" "$tmp/n.png" || return 1
  # --raw-weights: the trained weights, those of the run without an average
  "$clvae" sample "$tmp/e2" --n 8 --steps 10 --raw-weights --out "$tmp/r.png" > /dev/null &&
    cmp -s "$tmp/r.png" "$tmp/n.png" || return 1
  out=$("$clvae" sample "$tmp/n2" --raw-weights --out "$tmp/x.png" 2>&1)
  [ $? -eq 2 ] && [ ! -e "$tmp/x.png" ] && grep -q "keeps no moving average" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" train "$tmp/d.cfg" --set train.ema=1 --out "$tmp/bad" 2>&1)
  [ $? -eq 2 ] && grep -q "train.ema=1: must be a number from 0 to 0.999999" <<<"$out" && [ ! -e "$tmp/bad" ] || { echo "$out" >&2; return 1; }
}
check ema_resume_bit_exact t_ema_resume_bit_exact

# [model] conditional = 10: the label's one-hot joins the time embedding, 10% of the training
# labels are dropped to the null class, and sample draws a class with classifier-free guidance.
t_conditional_guidance() {
  local out rc
  out=$("$clvae" check-config "$tmp/d.cfg" --set model.conditional=10) &&
    grep -q "^1 *time_embed *26x1x1 " <<<"$out" || { echo "$out" >&2; return 1; }
  "$clvae" train "$tmp/d.cfg" --set model.conditional=10 --epochs 2 --no-figures --out "$tmp/cond" > /dev/null 2>&1 || return 1
  less "$(col "$tmp/cond" 2 train_loss)" "$(col "$tmp/cond" 1 train_loss)" || return 1
  "$clvae" sample "$tmp/cond" --label 3 --guidance 2 --n 8 --steps 10 --out "$tmp/g1.png" > /dev/null &&
    "$clvae" sample "$tmp/cond" --label 3 --guidance 2 --n 8 --steps 10 --out "$tmp/g2.png" > /dev/null &&
    cmp -s "$tmp/g1.png" "$tmp/g2.png" &&
    "$clvae" sample "$tmp/cond" --label 3 --guidance 0 --n 8 --steps 10 --out "$tmp/g0.png" > /dev/null &&
    ! cmp -s "$tmp/g1.png" "$tmp/g0.png" &&
    "$clvae" sample "$tmp/cond" --steps 10 --out "$tmp/rows.png" > /dev/null && is_png "$tmp/rows.png" || return 1
  "$clvae" train "$tmp/d.cfg" --epochs 1 --limit 128 --no-figures --out "$tmp/unc" > /dev/null 2>&1 || return 1
  out=$("$clvae" sample "$tmp/unc" --guidance 2 --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/x.png" ] && grep -q "is not conditional" <<<"$out" || { echo "$rc $out" >&2; return 1; }
  out=$("$clvae" sample "$tmp/cond" --guidance 101 --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/x.png" ] || { echo "$rc $out" >&2; return 1; }
  out=$("$clvae" train "$tmp/d.cfg" --set diffusion.uncond=0.2 --out "$tmp/bad" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "needs \[model\] conditional" <<<"$out" || { echo "$rc $out" >&2; return 1; }
}
check conditional_guidance t_conditional_guidance

# clvae chain: rows of samples, frames from x_T to x_0 (train draws one too); bad frame counts and
# other kinds exit 2 and write nothing.
t_chain() {
  local out rc
  "$clvae" train "$tmp/d.cfg" --set model.conditional=10 --epochs 1 --limit 128 --out "$tmp/ch" > /dev/null 2>&1 &&
    is_png "$tmp/ch/chain.png" || return 1
  out=$("$clvae" chain "$tmp/ch" --n 3 --frames 6 --steps 10 --guidance 2 --out "$tmp/c1.png") &&
    grep -q "^rows: 3 samples (seed 1); columns: 6 frames from x_T to x_0 (DDIM over 10 of the 100 steps, eta 0, guidance 2, x_0 clipped to \[-1, 1\])$" <<<"$out" &&
    "$clvae" chain "$tmp/ch" --n 3 --frames 6 --steps 10 --guidance 2 --out "$tmp/c2.png" > /dev/null &&
    cmp -s "$tmp/c1.png" "$tmp/c2.png" || { echo "$out" >&2; return 1; }
  out=$("$clvae" chain "$tmp/ch" --frames 12 --steps 10 --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/x.png" ] && grep -q "12 frames of a chain of 10 steps" <<<"$out" || { echo "$rc $out" >&2; return 1; }
  "$clvae" train models/digits_ae.cfg --epochs 1 --limit 128 --no-figures --out "$tmp/ae2" > /dev/null 2>&1 || return 1
  out=$("$clvae" chain "$tmp/ae2" --out "$tmp/x.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/x.png" ] && grep -q "draws a diffusion model's denoising steps" <<<"$out" || { echo "$rc $out" >&2; return 1; }
}
check chain t_chain

# bench times a diffusion model's sampling as sampling steps (DDIM over --steps steps) and
# gives images/s of DDIM over 50 steps and of DDPM over all T.
t_bench_sampling() {
  local out
  out=$("$clvae" bench "$tmp/d.cfg" --steps 2 2>&1) &&
    grep -q "^sampling: *[0-9.]* images/s with DDIM over 50 steps, [0-9.e+]* with DDPM over all 100 ([0-9.]* sampling steps per image per second over 2 timed DDIM steps)" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" bench "$tmp/d.cfg" --steps 2 --json 2>&1) &&
    awk -v v="$(sed -n 's/.*"sample_steps_per_s": \([0-9.]*\).*/\1/p' <<<"$out")" 'BEGIN { exit !(v > 0) }' || { echo "$out" >&2; return 1; }
}
check bench_sampling t_bench_sampling

t_bad_configs_exit_2() {
  local out rc bad
  for bad in "diffusion.steps=1" "diffusion.beta_end=1" "diffusion.beta_start=0" "diffusion.schedule=cosine" \
             "diffusion.uncond=0.2" "conv#4.activation=sigmoid" "loss.reconstruction=bce"; do
    case $bad in
      diffusion.schedule=cosine|loss.reconstruction=bce) ;;
      *) out=$("$clvae" train "$tmp/d.cfg" --set "$bad" --out "$tmp/bad" 2>&1); rc=$? ;;
    esac
    case $bad in
      # cosine alone is fine: with it the linear schedule's beta_start is refused
      diffusion.schedule=cosine) out=$("$clvae" train "$tmp/d.cfg" --set "$bad" --set diffusion.beta_start=0.001 --out "$tmp/bad" 2>&1); rc=$? ;;
      loss.reconstruction=bce) printf '[loss]\nreconstruction = bce\n' | cat "$tmp/d.cfg" - > "$tmp/bce.cfg"
        out=$("$clvae" train "$tmp/bce.cfg" --out "$tmp/bad" 2>&1); rc=$? ;;
    esac
    [ $rc -eq 2 ] && grep -q "error" <<<"$out" && [ ! -e "$tmp/bad" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
  # a U-Net whose skip does not match: the down conv without its stride
  grep -q "\[concat\] joins along channels inputs of one height and width, but 'u' is 16x16x16 and 'h1' is 16x8x8" <<<"$("$clvae" check-config "$tmp/d.cfg" --set conv#2.stride=1 2>&1)" || return 1
  grep -q "d.cfg:12: \[diffusion\]: beta_99 = 1 is outside (0, 1)" <<<"$("$clvae" check-config "$tmp/d.cfg" --set diffusion.beta_end=1 2>&1)" || return 1
  # no [time_embed]
  printf '[model]\nkind = ddpm\n[input]\nchannels = 1\nheight = 8\nwidth = 8\n[conv]\nfilters = 1\nsize = 3\n' > "$tmp/nt.cfg"
  out=$("$clvae" check-config "$tmp/nt.cfg" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "needs a \[time_embed\]" <<<"$out" || { echo "$rc $out" >&2; return 1; }
}
check bad_configs_exit_2 t_bad_configs_exit_2

# models/mnist_ddpm.cfg: its size, a few batches of training (not more: one step is a pass of
# a 28x28 U-Net), and 10 DDIM steps of sampling.
t_mnist_ddpm_config() {
  local out
  out=$("$clvae" check-config models/mnist_ddpm.cfg) || return 1
  grep -q "total: 436353 parameters" <<<"$out" && grep -q "^diffusion: T = 1000 steps, linear schedule" <<<"$out" &&
    grep -q "^24  add       64x7x7 .* mid_a <- mid_c1, mid_t$" <<<"$out" &&
    grep -q "^29  concat    128x14x14 .* cat2 <- up2, e2$" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" train models/mnist_ddpm.cfg --limit 256 --epochs 1 --test-limit 64 --no-figures --out "$tmp/mn" 2>&1) ||
    { echo "$out" >&2; return 1; }
  "$clvae" sample "$tmp/mn" --steps 10 --n 4 --out "$tmp/mn.png" > /dev/null && is_png "$tmp/mn.png"
}
check mnist_ddpm_config t_mnist_ddpm_config

finish
