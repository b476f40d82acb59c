#!/usr/bin/env bash
# A checkpoint written by the pre-redesign clvae (git 45acd39) still loads, evaluates to the recorded losses, samples, and resumes:
# to the losses the old binary printed after resuming (to 1e-5: since 2026-12-05 some reductions sum
# eight lanes at a time, another order of the same additions), the same bits on every resume.
#
# The fixture (tests/fixtures/pre_redesign_digits_vae, see its README.md) is a digits VAE after
# 1 epoch with its full training state. Every number below was printed by the pre-redesign
# binary on the pocl CPU device with CLVAE_TUNING=0, so this test runs on the CPU device with
# the tuning cache ignored: on another device the same maths rounds differently.
set -u
TEST_FILE=test_old_checkpoint
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
fixture=$(dirname "$0")/fixtures/pre_redesign_digits_vae
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$tmp/cache}
export CLVAE_TUNING=0 CLVAE_DEVICE=cpu
unset CLVAE_KERNEL_DIR CLVAE_KERNEL_CACHE CLVAE_FAST_MATH CLVAE_TUNING_DIR CLVAE_GEMM_DEFAULTS
data=${CLVAE_DATA_DIR:-data}

# What `clvae inspect` printed for the fixture, and for it resumed to epoch 2.
params_1=18ccfa9973c2b5a38fdc6e784a8eb48630088b5ef7bc843f6cd220afe1d6c00c
optim_1=2e1ce6dc4e16f18a9f1bb47a41bdd19d4fa19c455a9178416cb91be9f70927dc
# (It printed params 00b47296..., optimizer fe9a96e9... after resuming; today's sums differ in
# the last bits, so those hashes are history, not a check.)
# metrics.csv of the resumed run without the timing columns (seconds, images_per_s).
metrics_2='1,41.712514,41.439990,0.272524,38.855715,38.262199,0.593517,1
2,35.848805,34.216379,1.632426,32.694975,30.367495,2.327479,1'

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }
# json_fields JSON KEY...: "KEY=VALUE" per key, as printed (no rounding).
json_fields() {
  local j=$1 k; shift
  for k in "$@"; do printf '%s=%s\n' "$k" "$(sed -n "s/.*\"$k\": \([^,}]*\).*/\1/p" <<<"$j")"; done
}
# same WHAT GOT WANT: compares two texts, says what differs.
same() { [ "$2" = "$3" ] || { printf '%s differs:\n  got:  %s\n  want: %s\n' "$1" "${2//$'\n'/ }" "${3//$'\n'/ }" >&2; return 1; }; }

# Every check works on its own copy: nothing writes into the fixture.
copy() { rm -rf "$tmp/$1" && cp -r "$fixture" "$tmp/$1"; }

t_digits_data() {
  [ -s "$data/digits/digits.csv.gz" ] || { echo "no 8x8 digits in $data: run tools/fetch_data.sh digits" >&2; return 1; }
}
check digits_data t_digits_data

t_inspect_hashes() {
  copy inspect || return 1
  same "parameters and optimizer sha256" "$(weights_hash "$tmp/inspect")" "$params_1 $optim_1 "
}
check inspect_hashes t_inspect_hashes

t_eval_mean() {
  local out
  copy eval || return 1
  out=$("$clvae" eval "$tmp/eval" --json) || return 1
  same "eval --json (z = mean)" "$(json_fields "$out" data n latent loss reconstruction kl)" \
    "$(printf '%s\n' 'data="digits:test"' n=297 'latent="mean"' loss=41.047923 reconstruction=40.454406 kl=0.593517)"
}
check eval_mean t_eval_mean

t_eval_iwae() {
  local out
  copy eval || return 1
  out=$("$clvae" eval "$tmp/eval" --latent sample --iwae 10 --seed 1 --json) || return 1
  same "eval --latent sample --iwae 10 --seed 1 --json" \
    "$(json_fields "$out" n latent loss reconstruction kl iwae_k log_px)" \
    "$(printf '%s\n' n=297 'latent="sample"' loss=38.952686 reconstruction=38.359169 kl=0.593517 iwae_k=10 log_px=-38.248043)"
}
check eval_iwae t_eval_iwae

t_sample_png() {
  copy sample || return 1
  "$clvae" sample "$tmp/sample" --n 10 --seed 1 --out "$tmp/s.png" >/dev/null && is_png "$tmp/s.png"
}
check sample_png t_sample_png

# close WHAT GOT WANT: two CSV texts of equal shape whose numbers agree to 1e-5 (relative, or
# absolute below 1).
close() {
  paste -d, <(tr ',' '\n' <<<"$2") <(tr ',' '\n' <<<"$3") |
    awk -F, '{ d = $1 - $2; if (d < 0) d = -d; m = $2 < 0 ? -$2 : $2; if (m < 1) m = 1;
               if (NF != 2 || d > 1e-5 * m) bad++ } END { exit bad > 0 }' ||
    { printf '%s differs:\n  got:  %s\n  want: %s\n' "$1" "${2//$'\n'/ }" "${3//$'\n'/ }" >&2; return 1; }
}

t_resume_matches_old_binary() {
  # the command that resumed the fixture, with the config as it was then (models/digits_ae.cfg at
  # 45acd39), twice: the old binary's losses (to 1e-5), and the same bits both times
  local out r
  for r in resume resume2; do
    copy "$r" || return 1
    out=$("$clvae" train "$fixture/digits_ae.cfg" --set model.kind=vae --set loss.reconstruction=bce \
            --epochs 2 --no-figures --out "$tmp/$r" --resume 2>&1) || { echo "$out" >&2; return 1; }
    grep -q "resuming" <<<"$out" || { echo "$out" >&2; return 1; }
  done
  close "metrics.csv after resuming" "$(tail -n +2 "$tmp/resume/metrics.csv" | cut -d, -f1-7,10)" "$metrics_2" &&
    same "weights of two resumes" "$(weights_hash "$tmp/resume")" "$(weights_hash "$tmp/resume2")" &&
    [ "$(weights_hash "$tmp/resume")" != "$params_1 $optim_1 " ]
}
check resume_matches_old_binary t_resume_matches_old_binary

finish
