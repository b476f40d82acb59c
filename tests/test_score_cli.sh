#!/usr/bin/env bash
# `clvae score` and `clvae compare` end to end on the 8x8 digits: a tiny classifier, VAE and AE
# trained for a moment, their outputs parsed, and bad input refused with exit status 2.
set -u
TEST_FILE=test_score_cli
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$tmp/cache}
digits_cfg "$tmp/vae.cfg"
sed 's/^name = digits_vae/name = digits_ae\nkind = ae/' "$tmp/vae.cfg" > "$tmp/ae.cfg"
cat > "$tmp/cls.cfg" <<'CFG'
[model]
name = digits_classifier
kind = classifier
[data]
train = digits:train
test = digits:test
[train]
epochs = 4
batch = 32
lr = 0.003
[input]
channels = 1
height = 8
width = 8
[flatten]
[dense]
units = 32
activation = relu
[dense]
units = 10
CFG

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }
is_number() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; }

t_train_three_runs() {
  "$clvae" train "$tmp/cls.cfg" --out "$tmp/cls" >"$tmp/cls.log" 2>&1 &&
  "$clvae" train "$tmp/vae.cfg" --out "$tmp/vae" --no-figures >/dev/null 2>&1 &&
  "$clvae" train "$tmp/ae.cfg" --out "$tmp/ae" --no-figures >/dev/null 2>&1 || { cat "$tmp/cls.log" >&2; return 1; }
  # the classifier's epoch line and metrics: accuracy columns, no generative figures
  grep -q "^epoch 4/4  loss [0-9.]*  accuracy [0-9.]*%  test loss [0-9.]*  test accuracy [0-9.]*%" "$tmp/cls.log" &&
  [ "$(head -1 "$tmp/cls/metrics.csv" | cut -d, -f1-9)" = "epoch,train_loss,train_xent,train_acc,test_loss,test_xent,test_acc,seconds,images_per_s" ] &&
  [ ! -e "$tmp/cls/samples.png" ]
}
check train_three_runs t_train_three_runs

t_eval_classifier() {
  local out acc last
  out=$("$clvae" eval "$tmp/cls" --json) || return 1
  acc=$(sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p' <<<"$out")
  last=$(tail -1 "$tmp/cls/metrics.csv" | cut -d, -f7)
  # the test pass agrees with the last metrics row, and the classifier learnt something
  awk -v a="$acc" -v b="$last" 'BEGIN { exit !(a - b < 1e-5 && b - a < 1e-5 && a > 0.5) }' &&
  "$clvae" eval "$tmp/cls" | grep -q "test accuracy [0-9.]*%"
}
check eval_classifier t_eval_classifier

t_bench_classifier() {
  "$clvae" bench "$tmp/cls.cfg" --steps 1 2>/dev/null | grep -q "^sampling: - (a classifier)"
}
check bench_classifier t_bench_classifier

t_sweep_refuses_classifier() {
  local out rc
  out=$("$clvae" sweep "$tmp/cls.cfg" --set train.lr=0.1,0.2 --out "$tmp/sw" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "is a classifier" <<<"$out" && [ ! -e "$tmp/sw" ]
}
check sweep_refuses_classifier t_sweep_refuses_classifier

# The figure commands ask the run's objective what it can do: on a classifier each refuses
# (exit 2, one line naming what it needs) and writes nothing, instead of drawing from buffers
# that nothing wrote.
t_figures_refuse_classifier() {
  local out rc c
  for c in "sample" "reconstruct" "manifold" "latent" "interpolate --from 0 --to 1" "denoise"; do
    out=$("$clvae" $c "$tmp/cls" --out "$tmp/fig.png" 2>&1); rc=$?
    [ $rc -eq 2 ] && grep -q "is a classifier: \`clvae ${c%% *}\` needs a model that" <<<"$out" &&
      [ ! -e "$tmp/fig.png" ] && [ ! -e "$tmp/fig.csv" ] || { echo "$c: $rc $out" >&2; return 1; }
  done
}
check figures_refuse_classifier t_figures_refuse_classifier

t_score_text_and_json() {
  local out js fid conf hist
  out=$("$clvae" score "$tmp/vae" --classifier "$tmp/cls" --count 400 --seed 3) || return 1
  grep -q "FID (own digits classifier): [0-9.]*" <<<"$out" &&
    ! grep -qi "^ *FID:" <<<"$out" && grep -q "mean max-softmax confidence: 0\.[0-9]*" <<<"$out" &&
    grep -q "class histogram of the samples: 0:[0-9]* 1:" <<<"$out" || { echo "$out" >&2; return 1; }
  js=$("$clvae" score "$tmp/vae" --classifier "$tmp/cls/checkpoint.safetensors" --count 400 --seed 3 --json) || return 1
  fid=$(sed -n 's/.*"fid_own_classifier": \([0-9.]*\).*/\1/p' <<<"$js")
  conf=$(sed -n 's/.*"confidence": \([0-9.]*\),.*/\1/p' <<<"$js")
  hist=$(sed -n 's/.*"histogram": \[\([0-9, ]*\)\].*/\1/p' <<<"$js" | tr -d ' ' | tr ',' '+')
  is_number "$fid" && is_number "$conf" && [ "$((hist))" -eq 400 ] &&
    grep -q '"label_match": null' <<<"$js" || { echo "$js" >&2; return 1; }
  # the same seed gives the same numbers; the text and JSON agree
  grep -q "FID (own digits classifier): $(printf '%.3f' "$fid")" <<<"$out"
}
check score_text_and_json t_score_text_and_json

t_score_plain_ae_says_so() {
  "$clvae" score "$tmp/ae" --classifier "$tmp/cls" --count 100 | grep -q "plain autoencoder.*poor generator"
}
check score_plain_ae_says_so t_score_plain_ae_says_so

t_score_conditional() {
  local out js m
  sed 's/^name = digits_vae/name = digits_cvae\nconditional = 10/' "$tmp/vae.cfg" > "$tmp/cvae.cfg"
  "$clvae" train "$tmp/cvae.cfg" --out "$tmp/cvae" --no-figures >/dev/null 2>&1 || return 1
  out=$("$clvae" score "$tmp/cvae" --classifier "$tmp/cls" --count 200) || return 1
  grep -q "labels 0..K-1 in equal numbers" <<<"$out" &&
    grep -qi "classified as the requested label" <<<"$out" || { echo "$out" >&2; return 1; }
  js=$("$clvae" score "$tmp/cvae" --classifier "$tmp/cls" --count 200 --json) || return 1
  m=$(sed -n 's/.*"label_match": \([0-9.]*\), "cas": null}.*/\1/p' <<<"$js")
  is_number "$m" || { echo "$js" >&2; return 1; }
  # compare draws a conditional run's grid with labels (a refusal would exit non-zero): a row of
  # 8 per digit, all ten (8x8 images at zoom 7: 10 rows of 58 pixels + 2, under the caption)
  "$clvae" compare "$tmp/cvae" --iwae 0 --n 100 --out "$tmp/cmp_c" >/dev/null 2>&1 && is_png "$tmp/cmp_c/compare.png" &&
    [ "$(png_size "$tmp/cmp_c/compare.png" | cut -dx -f2)" = 638 ] || { png_size "$tmp/cmp_c/compare.png" >&2; return 1; }
}
check score_conditional t_score_conditional

# score --cas: the classifier config trained on the samples (labelled by the classifier: an
# unconditional VAE), on as many real images and on both; what it prints is what the three runs
# measured, the samples' labels are the histogram's, the data sets have their sizes
t_score_cas() {
  local out acc want hist got w
  mkdir -p "$tmp/tmpd"
  out=$(TMPDIR="$tmp/tmpd" "$clvae" score "$tmp/vae" --classifier "$tmp/cls" --count 300 --seed 3 \
        --cas --cas-epochs 2 --cas-out "$tmp/cas" 2>"$tmp/cas.err") || { cat "$tmp/cas.err" >&2; return 1; }
  grep -q "classification accuracy score: classifier config of $tmp/cls/checkpoint.safetensors, 2 epochs on each set, tested on 297 real test images" <<<"$out" &&
    grep -q "labels: the classifier's predictions of the samples" <<<"$out" &&
    grep -q "^CAS, trained on the generated images: epoch 2/2, test accuracy" "$tmp/cas.err" || { echo "$out" >&2; return 1; }
  for set in "generated:300 generated images alone" "real:the first 300 real training images" "both:both (600 images)"; do
    acc=$(tail -1 "$tmp/cas/run_${set%%:*}/metrics.csv" | cut -d, -f7)
    want=$(awk -v a="$acc" 'BEGIN { printf "%.2f%%", 100 * a }')
    grep -qF "trained on ${set#*:}: $want" <<<"$out" || { echo "${set%%:*}: $acc: $out" >&2; return 1; }
  done
  # IDX sizes: 300, 300 and 600 images of 8x8
  [ "$(stat -c %s "$tmp/cas/generated/images-idx3-ubyte")" -eq $((16 + 300 * 64)) ] &&
    [ "$(stat -c %s "$tmp/cas/real/images-idx3-ubyte")" -eq $((16 + 300 * 64)) ] &&
    [ "$(stat -c %s "$tmp/cas/both/labels-idx1-ubyte")" -eq $((8 + 600)) ] || return 1
  # the generated set's labels are the classifier's classes: its histogram, printed by score
  hist=$(sed -n 's/.*class histogram of the samples: //p' <<<"$out")
  got=$(od -An -tu1 -v -j8 "$tmp/cas/generated/labels-idx1-ubyte" | tr -s ' \n' '\n' | grep . | sort -n | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
  for w in $hist; do
    [ "${w#*:}" = 0 ] && continue
    grep -qw -- "$w" <<<"$got" || { echo "histogram $hist, labels $got" >&2; return 1; }
  done
  # the real set is the first 300 training images with their labels (scale 1/16 -> 255/16)
  "$clvae" train "$tmp/cls.cfg" --set "data.train=idx:$tmp/cas/real/images-idx3-ubyte,$tmp/cas/real/labels-idx1-ubyte" \
    --epochs 2 --no-figures --out "$tmp/cas_again" >/dev/null 2>&1 &&
    cmp -s <(cut -d, -f7 "$tmp/cas_again/metrics.csv") <(cut -d, -f7 "$tmp/cas/run_real/metrics.csv") || return 1
  # without --cas-out the folder is temporary: nothing stays in TMPDIR; JSON carries the numbers
  out=$(TMPDIR="$tmp/tmpd" "$clvae" score "$tmp/vae" --classifier "$tmp/cls" --count 300 --seed 3 \
        --cas-epochs 2 --json 2>/dev/null) || return 1
  grep -q '"cas": {"images": 300, "epochs": 2, "labels": "classifier", "test_images": 297, "generated": [0-9.]*, "real": [0-9.]*, "both": [0-9.]*}}' <<<"$out" &&
    [ -z "$(ls -A "$tmp/tmpd")" ] || { echo "$out"; ls -A "$tmp/tmpd"; return 1; } >&2
}
check score_cas t_score_cas

# a conditional model's samples keep the labels they were drawn with (balanced); refusals exit 2
# before any work and leave nothing
t_score_cas_conditional_and_refusals() {
  local out rc bad
  out=$("$clvae" score "$tmp/cvae" --classifier "$tmp/cls" --count 200 --cas-epochs 1 --cas-out "$tmp/casc" 2>/dev/null) || return 1
  grep -q "labels: the ones they were drawn with" <<<"$out" &&
    [ "$(od -An -tu1 -v -j8 "$tmp/casc/generated/labels-idx1-ubyte" | tr -s ' \n' '\n' | grep . | sort -n | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')" = \
      "0:20 1:20 2:20 3:20 4:20 5:20 6:20 7:20 8:20 9:20 " ] || { echo "$out" >&2; return 1; }
  mkdir -p "$tmp/tmpd2"
  for bad in "--count 2000 --cas:holds 1500 images, fewer than the 2000" \
             "--count 100 --cas-out $tmp/casc:exists: score does not overwrite" \
             "--count 100 --cas-epochs 0:--cas-epochs wants" \
             "--count 100 --cas-out $tmp/cls.cfg/x:not a folder"; do
    out=$(TMPDIR="$tmp/tmpd2" "$clvae" score "$tmp/vae" --classifier "$tmp/cls" ${bad%%:*} 2>&1); rc=$?
    [ $rc -eq 2 ] && grep -qF -- "${bad#*:}" <<<"$out" && ! grep -q "^sampling:" <<<"$out" &&
      [ -z "$(ls -A "$tmp/tmpd2")" ] || { echo "$bad: rc $rc: $out" >&2; return 1; }
  done
}
check score_cas_conditional_and_refusals t_score_cas_conditional_and_refusals

# compare --cas: a CAS column whose value is score --cas's for the same samples (same count,
# seed and epochs: the classifier trains the same way); --cas without --classifier exits 2
t_compare_cas() {
  local out rc gen cell
  out=$("$clvae" compare "$tmp/vae" --cas --out "$tmp/cmp_cas" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "cas trains the config of the classifier" <<<"$out" && [ ! -e "$tmp/cmp_cas" ] || { echo "$rc $out" >&2; return 1; }
  "$clvae" compare "$tmp/vae" "$tmp/cls" --classifier "$tmp/cls" --count 300 --seed 3 --cas --cas-epochs 2 \
    --iwae 0 --out "$tmp/cmp_cas" >/dev/null 2>&1 || return 1
  gen=$(tail -1 "$tmp/cas/run_generated/metrics.csv" | cut -d, -f7)
  cell=$(awk -v a="$gen" 'BEGIN { printf "%.2f%%", 100 * a }')
  grep -q "| CAS (trained on samples) |$" "$tmp/cmp_cas/compare.md" &&
    grep -q "^| $tmp/vae | .* | $cell |$" "$tmp/cmp_cas/compare.md" &&
    grep -q "^| $tmp/cls | .* | - |$" "$tmp/cmp_cas/compare.md" &&
    grep -q "the same config on the first 300 real training images: [0-9.]*%" "$tmp/cmp_cas/compare.md" || { cat "$tmp/cmp_cas/compare.md" >&2; return 1; }
}
check compare_cas t_compare_cas

# generate: a conditional run's samples as MNIST IDX files with balanced labels, which clvae
# trains on again; .npy too; bad input exits 2 and leaves nothing
t_generate_data_set() {
  local out rc hex
  out=$("$clvae" generate "$tmp/cvae" --count 25 --out "$tmp/gen/a") || return 1
  grep -q "^25 samples of .* (seed 1) in [0-9.]* s: $tmp/gen/a/images-idx3-ubyte and $tmp/gen/a/labels-idx1-ubyte (labels 0..9, 2 or 3 each)$" <<<"$out" || { echo "$out" >&2; return 1; }
  # IDX: magic 0x00000803, then 25, 8, 8 big-endian
  [ "$(od -An -tx1 -N16 "$tmp/gen/a/images-idx3-ubyte" | tr -d ' \n')" = 00000803000000190000000800000008 ] || return 1
  [ "$(stat -c %s "$tmp/gen/a/images-idx3-ubyte")" -eq $((16 + 25 * 64)) ] || return 1
  hex=$(od -An -tu1 -v "$tmp/gen/a/labels-idx1-ubyte" | tr -s ' \n' ' ')
  [ "$hex" = " 0 0 8 1 0 0 0 25 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 " ] || { echo "labels: $hex" >&2; return 1; }
  # clvae reads them back: the classifier trains on the generated set
  "$clvae" train "$tmp/cls.cfg" --set "data.train=idx:$tmp/gen/a/images-idx3-ubyte,$tmp/gen/a/labels-idx1-ubyte" \
    --epochs 1 --batch 5 --no-figures --out "$tmp/gen/cls" > /dev/null 2>&1 || return 1
  # the same seed draws the same bytes; another seed others
  "$clvae" generate "$tmp/cvae" --count 25 --out "$tmp/gen/b" > /dev/null &&
    cmp -s "$tmp/gen/a/images-idx3-ubyte" "$tmp/gen/b/images-idx3-ubyte" &&
    "$clvae" generate "$tmp/cvae" --count 25 --seed 2 --out "$tmp/gen/c" > /dev/null &&
    ! cmp -s "$tmp/gen/a/images-idx3-ubyte" "$tmp/gen/c/images-idx3-ubyte" || return 1
  # .npy: uint8 [25, 8, 8] after NumPy's header, the same bytes
  "$clvae" generate "$tmp/cvae" --count 25 --format npy --out "$tmp/gen/n" > /dev/null &&
    head -c 128 "$tmp/gen/n/images.npy" | grep -aq "'descr': '|u1', 'fortran_order': False, 'shape': (25, 8, 8)" &&
    cmp -s <(tail -c 1600 "$tmp/gen/n/images.npy") <(tail -c 1600 "$tmp/gen/a/images-idx3-ubyte") &&
    [ -f "$tmp/gen/n/labels.npy" ] || return 1
  # bad input: exit 2, nothing made
  for bad in "$tmp/cvae --count 0 --out $tmp/gen/x" "$tmp/cls --count 5 --out $tmp/gen/x" \
             "$tmp/cvae --count 5 --format png --out $tmp/gen/x" "$tmp/cvae --count 5 --out $tmp/cls.cfg/x" \
             "$tmp/cvae --count 5 --out $tmp/gen/a" "$tmp/cvae --count 5"; do
    out=$("$clvae" generate $bad 2>&1); rc=$?
    [ $rc -eq 2 ] && [ ! -e "$tmp/gen/x" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
  [ "$(stat -c %s "$tmp/gen/a/images-idx3-ubyte")" -eq $((16 + 25 * 64)) ]
}
check generate_data_set t_generate_data_set

# encode: the test set's z_mean as float32 .npy (labels beside it) and as .csv, the same numbers
# (the .npy's floats read back by od); --data and --limit; no code to write or a bad --out: exit 2
t_encode_embeddings() {
  local out rc hl
  out=$("$clvae" encode "$tmp/vae" --out "$tmp/enc/z.npy" 2>&1); rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/enc" ] || { echo "missing folder: $rc $out" >&2; return 1; }
  mkdir -p "$tmp/enc"
  out=$("$clvae" encode "$tmp/vae" --limit 50 --out "$tmp/enc/z.npy") &&
    grep -q "^z_mean of 50 digits:test examples (2 dimensions) into $tmp/enc/z.npy, their labels into $tmp/enc/z_labels.npy$" <<<"$out" || { echo "$out" >&2; return 1; }
  head -c 128 "$tmp/enc/z.npy" | grep -aq "'descr': '<f4', 'fortran_order': False, 'shape': (50, 2)" &&
    head -c 128 "$tmp/enc/z_labels.npy" | grep -aq "'descr': '|u1', 'fortran_order': False, 'shape': (50,)" || return 1
  hl=$(( $(od -An -tu2 -j8 -N2 "$tmp/enc/z.npy") + 10 ))
  "$clvae" encode "$tmp/vae" --limit 50 --out "$tmp/enc/z.csv" > /dev/null || return 1
  [ "$(wc -l < "$tmp/enc/z.csv")" -eq 51 ] && [ "$(head -1 "$tmp/enc/z.csv")" = "index,label,z0,z1" ] || return 1
  paste -d' ' <(od -An -v -f -j "$hl" -w8 "$tmp/enc/z.npy") <(tail -n +2 "$tmp/enc/z.csv" | tr ',' ' ') |
    awk '{ for (k = 0; k < 2; k++) { a = $(1 + k); b = $(5 + k); d = a - b; if (d < 0) d = -d; if (d > 1e-5 * (1 + (b < 0 ? -b : b))) exit 1 } } END { exit NR != 50 }' || return 1
  # the labels are the test set's (those the CSV gives)
  [ "$(od -An -v -tu1 -j "$(( $(od -An -tu2 -j8 -N2 "$tmp/enc/z_labels.npy") + 10 ))" "$tmp/enc/z_labels.npy" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')" = "$(tail -n +2 "$tmp/enc/z.csv" | cut -d, -f2 | tr '\n' ' ' | sed 's/ $//')" ] || return 1
  if python3 -c 'import numpy' 2> /dev/null; then
    python3 -c "import numpy as np; z = np.load('$tmp/enc/z.npy'); assert z.shape == (50, 2) and z.dtype == np.float32" || return 1
  fi
  # another data set (the training split), a conditional model with its labels
  "$clvae" encode "$tmp/cvae" --data digits:train --limit 7 --out "$tmp/enc/c.csv" > /dev/null &&
    [ "$(wc -l < "$tmp/enc/c.csv")" -eq 8 ] || return 1
  for bad in "$tmp/cls --out $tmp/enc/x.npy" "$tmp/vae --out $tmp/enc/x.txt" "$tmp/vae --data mnist:test --out $tmp/enc/x.npy" "$tmp/vae"; do
    out=$("$clvae" encode $bad 2>&1); rc=$?
    [ $rc -eq 2 ] && [ ! -e "$tmp/enc/x.npy" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
}
check encode_embeddings t_encode_embeddings

# restyle: a conditional model's test images, each decoded with every label (one row each, the
# source first); an unconditional model, a bad --from, an index past the test set: exit 2
t_restyle() {
  local out rc w h
  out=$("$clvae" restyle "$tmp/cvae" --from 0,1,2 --out "$tmp/restyle.png") && is_png "$tmp/restyle.png" || { echo "$out" >&2; return 1; }
  w=$(png_size "$tmp/restyle.png" | cut -dx -f1); h=$(png_size "$tmp/restyle.png" | cut -dx -f2)
  # 11 columns and 3 rows of the same cells: wider than 3 times its height is not possible
  [ "$w" -gt "$h" ] || { echo "${w}x$h" >&2; return 1; }
  "$clvae" restyle "$tmp/cvae" --from 0 --out "$tmp/restyle1.png" > /dev/null &&
    [ "$(png_size "$tmp/restyle1.png" | cut -dx -f2)" -lt "$h" ] || return 1
  for bad in "$tmp/vae --from 1" "$tmp/cvae --from x" "$tmp/cvae --from 1,,2" "$tmp/cvae --from 99999" "$tmp/cvae" \
             "$tmp/cvae --from 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"; do
    out=$("$clvae" restyle $bad --out "$tmp/rs_bad.png" 2>&1); rc=$?
    [ $rc -eq 2 ] && [ ! -e "$tmp/rs_bad.png" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
}
check restyle t_restyle

# super-resolution: an autoencoder trained on digits downsampled by 2 restores them better than
# its own input (nearest) and bilinear upsampling; check-config says what the corruption is;
# bad --factor, --n, a classifier: exit 2
t_superres() {
  local out rc m b nn
  { cat "$tmp/ae.cfg"; printf '[noise]\ntype = downsample\nfactor = 2\n'; } > "$tmp/sr.cfg"
  "$clvae" check-config "$tmp/sr.cfg" | grep -q "^noise: downsampling by 2 (each 2x2 block averaged, a 4x4 image at full size)" || return 1
  "$clvae" train "$tmp/sr.cfg" --set latent.size=16 --epochs 60 --no-figures --out "$tmp/sr" > /dev/null 2>&1 || return 1
  out=$("$clvae" superres "$tmp/sr" --n 4 --out "$tmp/sr.png") && is_png "$tmp/sr.png" || { echo "$out" >&2; return 1; }
  grep -q "^297 test images of digits:test at 1/2 resolution (the factor the run trained with):$" <<<"$out" || { echo "$out" >&2; return 1; }
  m=$(sed -n 's/.*restored by the model *\([0-9.]*\) dB/\1/p' <<<"$out")
  b=$(sed -n 's/.*bilinear upsampling *\([0-9.]*\) dB/\1/p' <<<"$out")
  nn=$(sed -n 's/.*nearest upsampling *\([0-9.]*\) dB.*/\1/p' <<<"$out")
  awk -v m="$m" -v b="$b" -v n="$nn" 'BEGIN { exit !(m > n + 1 && m > b + 1 && n > 5 && b > 5) }' || { echo "$out" >&2; return 1; }
  for bad in "$tmp/sr --factor 3" "$tmp/sr --n 0" "$tmp/sr --n 40" "$tmp/cls"; do
    out=$("$clvae" superres $bad --out "$tmp/sr_bad.png" 2>&1); rc=$?
    [ $rc -eq 2 ] && [ ! -e "$tmp/sr_bad.png" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
  # [noise] factor that does not divide the input is a config error
  { cat "$tmp/ae.cfg"; printf '[noise]\ntype = downsample\nfactor = 3\n'; } > "$tmp/sr3.cfg"
  out=$("$clvae" check-config "$tmp/sr3.cfg" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "factor = 3: want 2 or more, dividing the input's 8x8" <<<"$out" || { echo "$rc $out" >&2; return 1; }
}
check superres t_superres

# inpainting: the missing values of each mask counted exactly (297 test digits of 8x8), the
# autoencoder's fill beats leaving them at 0, the same seed the same random mask; bad masks,
# --iters and kinds: exit 2
t_inpaint() {
  local out rc it z
  out=$("$clvae" inpaint "$tmp/sr" --mask bottom --n 4 --out "$tmp/ip.png") && is_png "$tmp/ip.png" || { echo "$out" >&2; return 1; }
  grep -q "^297 test images of digits:test, --mask bottom: 9504 values missing$" <<<"$out" || { echo "$out" >&2; return 1; }
  it=$(sed -n 's/.*filled by 20 passes (known pixels put back) *\([0-9.]*\) dB/\1/p' <<<"$out")
  z=$(sed -n 's/.*left at 0 *\([0-9.]*\) dB/\1/p' <<<"$out")
  awk -v a="$it" -v b="$z" 'BEGIN { exit !(b > 0 && a > b + 1) }' || { echo "$out" >&2; return 1; }
  "$clvae" inpaint "$tmp/sr" --mask box:2,1,3,4 --iters 3 --out "$tmp/ip2.png" | grep -q ", --mask box:2,1,3,4: 3564 values missing$" || return 1
  local r1 r2
  r1=$("$clvae" inpaint "$tmp/sr" --mask random:0.25 --out "$tmp/ip3.png" | head -1) &&
    r2=$("$clvae" inpaint "$tmp/sr" --mask random:0.25 --out "$tmp/ip3.png" | head -1) && [ "$r1" = "$r2" ] || return 1
  local k; k=$(sed -n 's/.*: \([0-9]*\) values missing$/\1/p' <<<"$r1")
  [ "$k" -gt 4000 ] && [ "$k" -lt 5500 ] || { echo "$r1" >&2; return 1; }   # about 0.25 of 19,008
  for bad in "--mask box:6,6,3,3" "--mask box:0,0,0,2" "--mask random:0" "--mask random:1.5" "--mask middle" \
             "--mask bottom --iters 0" "" ; do
    out=$("$clvae" inpaint "$tmp/sr" $bad --out "$tmp/ip_bad.png" 2>&1); rc=$?
    [ $rc -eq 2 ] && [ ! -e "$tmp/ip_bad.png" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
  out=$("$clvae" inpaint "$tmp/cls" --mask bottom --out "$tmp/ip_bad.png" 2>&1); rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/ip_bad.png" ] || { echo "classifier: $rc $out" >&2; return 1; }
}
check inpaint t_inpaint

# inpaint by the latent fit (a VAE): a line and a row of its own, better than leaving the values
# at 0, the same twice; refused for a plain AE and for bad steps or rates
t_inpaint_fit() {
  local out rc f z h3 h4
  out=$("$clvae" inpaint "$tmp/vae" --mask bottom --fit-steps 30 --n 4 --out "$tmp/ipf.png") || { echo "$out" >&2; return 1; }
  f=$(sed -n 's/.*latent fit: *30 Adam steps (rate 0.05) from the z_mean *\([0-9.]*\) dB$/\1/p' <<<"$out")
  z=$(sed -n 's/.*left at 0 *\([0-9.]*\) dB/\1/p' <<<"$out")
  awk -v a="$f" -v b="$z" 'BEGIN { exit !(b > 0 && a > b) }' || { echo "$out" >&2; return 1; }
  [ "$("$clvae" inpaint "$tmp/vae" --mask bottom --fit-steps 30 --n 4 --out "$tmp/ipf2.png")" = "${out/ipf.png/ipf2.png}" ] &&
    cmp -s "$tmp/ipf.png" "$tmp/ipf2.png" || return 1
  # --fit-steps 0: no fit line, three rows instead of four
  out=$("$clvae" inpaint "$tmp/vae" --mask bottom --fit-steps 0 --n 4 --out "$tmp/ip0.png") || return 1
  ! grep -q "latent fit" <<<"$out" || return 1
  h4=$(png_size "$tmp/ipf.png" | cut -dx -f2); h3=$(png_size "$tmp/ip0.png" | cut -dx -f2)
  [ "$h4" -gt "$h3" ] || { echo "heights $h4 $h3" >&2; return 1; }
  for bad in "$tmp/sr --fit-steps 5:wants a VAE" "$tmp/vae --fit-steps -1:--fit-steps wants" \
             "$tmp/vae --fit-lr 0:--fit-lr wants" "$tmp/vae --fit-lr x:--fit-lr wants"; do
    out=$("$clvae" inpaint ${bad%%:*} --mask bottom --out "$tmp/ip_bad.png" 2>&1); rc=$?
    [ $rc -eq 2 ] && grep -qF -- "${bad#*:}" <<<"$out" && [ ! -e "$tmp/ip_bad.png" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
}
check inpaint_fit t_inpaint_fit

# A conditional diffusion model: score samples with its sampler options, says which sampler
# and how fast; a classifier refuses them.
t_score_ddpm() {
  local out rc
  digits_ddpm_cfg "$tmp/ddpm.cfg"
  "$clvae" train "$tmp/ddpm.cfg" --set model.conditional=10 --epochs 1 --no-figures --out "$tmp/ddpm" > /dev/null 2>&1 || return 1
  out=$("$clvae" score "$tmp/ddpm" --classifier "$tmp/cls" --count 40 --steps 5 --guidance 2) || return 1
  grep -q "(diffusion model): 40 samples, seed 1: x_T ~ N(0, I) denoised .* labels 0..K-1 in equal numbers: DDIM over 5 of the 100 steps, eta 0, guidance 2, x_0 clipped to \[-1, 1\]$" <<<"$out" &&
    grep -q "^sampling: [0-9.]* s, [0-9.e+]* images/s$" <<<"$out" &&
    grep -qi "classified as the requested label" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$("$clvae" score "$tmp/ddpm" --classifier "$tmp/cls" --count 8 --ancestral --json) || return 1
  grep -q '"sampling": "x_T .*ancestral DDPM over all 100 steps, guidance 1, x_0 clipped to \[-1, 1\]"' <<<"$out" || { echo "$out" >&2; return 1; }
  # a row in compare, its FID among the others
  "$clvae" compare "$tmp/ddpm" "$tmp/vae" --classifier "$tmp/cls" --count 40 --iwae 0 --out "$tmp/cmp_d" > /dev/null 2>&1 &&
    grep -q "^| $tmp/ddpm | digits_ddpm | ddpm | digits:train | 1 | .* | [0-9.]* | 0\.[0-9]* |" "$tmp/cmp_d/compare.md" &&
    grep -q "a diffusion model's DDIM over min(T, 50) steps" "$tmp/cmp_d/compare.md" || { cat "$tmp/cmp_d/compare.md" >&2; return 1; }
  out=$("$clvae" score "$tmp/vae" --classifier "$tmp/cls" --count 8 --steps 5 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "are a diffusion model's" <<<"$out" || { echo "$rc $out" >&2; return 1; }
}
check score_ddpm t_score_ddpm

# inpaint with a diffusion model (conditional: each image's own label): sampled with the known
# values put back; its sampler options; a VAE refuses them, the diffusion model --fit-steps
t_inpaint_ddpm() {
  local out rc
  out=$("$clvae" inpaint "$tmp/ddpm" --mask bottom --count 20 --n 4 --steps 5 --eta 1 --out "$tmp/ipd.png") || { echo "$out" >&2; return 1; }
  grep -q "^20 test images of digits:test, --mask bottom: 640 values missing$" <<<"$out" &&
    grep -q "put back (DDIM over 5 of the 100 steps, eta 1, guidance 1, x_0 clipped to \[-1, 1\]) *[0-9.]* dB$" <<<"$out" &&
    ! grep -q "one pass" <<<"$out" && is_png "$tmp/ipd.png" || { echo "$out" >&2; return 1; }
  [ "$(png_size "$tmp/ipd.png" | cut -dx -f2)" = "$(png_size "$tmp/ip0.png" | cut -dx -f2)" ] || return 1
  for bad in "$tmp/ddpm --fit-steps 5:wants a VAE" "$tmp/vae --steps 5:diffusion model"; do
    out=$("$clvae" inpaint ${bad%%:*} --mask bottom --out "$tmp/ip_bad.png" 2>&1); rc=$?
    [ $rc -eq 2 ] && grep -qF -- "${bad#*:}" <<<"$out" && [ ! -e "$tmp/ip_bad.png" ] || { echo "$bad: $rc $out" >&2; return 1; }
  done
}
check inpaint_ddpm t_inpaint_ddpm

t_cgan_draws_asked_digits() {
  # a small conditional GAN on the digits draws the asked digit far more often than chance
  # (10%); score and compare report mode collapse, which a generator that never learns
  # ([generator] lr = 0) shows
  local out js m
  cat > "$tmp/cgan.cfg" <<'CFG'
[model]
name = digits_cgan
kind = gan
conditional = 10
[data]
train = digits:train
test = digits:test
[train]
epochs = 30
batch = 64
lr = 0.002
[generator]
[input]
channels = 8
height = 1
width = 1
[flatten]
[dense]
units = 64
activation = relu
[dense]
units = 64
activation = sigmoid
[reshape]
channels = 1
height = 8
width = 8
[discriminator]
[input]
channels = 1
height = 8
width = 8
[flatten]
[dense]
units = 64
activation = leaky_relu
slope = 0.2
[dense]
units = 1
CFG
  "$clvae" train "$tmp/cgan.cfg" --out "$tmp/cgan" > "$tmp/cgan.log" 2>&1 || { cat "$tmp/cgan.log" >&2; return 1; }
  is_png "$tmp/cgan/progress.png" && [ -s "$tmp/cgan/progress/epoch_030.png" ] || return 1
  js=$("$clvae" score "$tmp/cgan" --classifier "$tmp/cls" --count 500 --json) || return 1
  m=$(sed -n 's/.*"label_match": \([0-9.]*\), "cas": null}.*/\1/p' <<<"$js")
  awk -v m="$m" 'BEGIN { exit !(m > 0.5) }' && grep -q '"kind": "gan"' <<<"$js" &&
    grep -q '"collapsed_classes": 0,' <<<"$js" || { echo "$js" >&2; return 1; }
  "$clvae" sample "$tmp/cgan" --label 3 --n 9 --out "$tmp/g3.png" > /dev/null && is_png "$tmp/g3.png" || return 1
  "$clvae" train "$tmp/cgan.cfg" --epochs 2 --set generator.lr=0 --out "$tmp/cgan0" --no-figures > /dev/null 2>&1 || return 1
  out=$("$clvae" score "$tmp/cgan0" --classifier "$tmp/cls" --count 500) || return 1
  grep -q "mode collapse: class" <<<"$out" || { echo "$out" >&2; return 1; }
  "$clvae" compare "$tmp/cgan" "$tmp/cgan0" --classifier "$tmp/cls" --count 500 --out "$tmp/cmp_g" > /dev/null 2>&1 || return 1
  grep -q "classes under 1/3 of their share" "$tmp/cmp_g/compare.md" &&
    grep -q "^| $tmp/cgan | digits_cgan | gan |.*| none |" "$tmp/cmp_g/compare.md" &&
    grep "^| $tmp/cgan0 |" "$tmp/cmp_g/compare.md" | grep -q "| [0-9, ]* |$" || { cat "$tmp/cmp_g/compare.md" >&2; return 1; }
}
check cgan_draws_asked_digits t_cgan_draws_asked_digits

t_compare_writes_table_and_png() {
  local out
  out=$("$clvae" compare "$tmp/vae" "$tmp/ae/" "$tmp/cls" --classifier "$tmp/cls" --count 200 --iwae 3 --out "$tmp/cmp" 2>/dev/null) || return 1
  [ -s "$tmp/cmp/compare.md" ] && is_png "$tmp/cmp/compare.png" || return 1
  local md=$tmp/cmp/compare.md
  grep -q '^`clvae compare .*--classifier' "$md" && grep -q "^Device: " "$md" &&
    grep -q "| run | model | kind | dataset | epochs | parameters |" "$md" &&
    grep -q "FID (own digits classifier)" "$md" || { cat "$md" >&2; return 1; }
  # VAE row: reconstruction, ELBO, log p(x) and FID are numbers; AE row: "-" for ELBO and
  # log p(x); classifier row: an accuracy and "-" for the sample columns
  local vae ae cls
  vae=$(grep "^| $tmp/vae |" "$md") && ae=$(grep "^| $tmp/ae |" "$md") && cls=$(grep "^| $tmp/cls |" "$md") || return 1
  IFS='|' read -r _ _ _ kind _ epochs params secs recon elbo logpx acc fid conf _ <<<"$vae"
  [ "$(echo $kind)" = vae ] && [ "$(echo $epochs)" = 2 ] && is_number $secs && is_number $elbo &&
    is_number $logpx && is_number $fid && is_number $conf && [ "$(echo $acc)" = - ] &&
    [[ $recon =~ [0-9.]+\ \(BCE\) ]] || { echo "vae row: $vae" >&2; return 1; }
  IFS='|' read -r _ _ _ kind _ _ _ _ recon elbo logpx acc fid _ <<<"$ae"
  [ "$(echo $elbo $logpx $acc)" = "- - -" ] && is_number $fid || { echo "ae row: $ae" >&2; return 1; }
  IFS='|' read -r _ _ _ kind _ _ _ _ recon elbo logpx acc fid conf _ <<<"$cls"
  [[ $acc =~ [0-9.]+% ]] && [ "$(echo $recon $fid $conf)" = "- - -" ] || { echo "classifier row: $cls" >&2; return 1; }
  grep -q "^wrote $tmp/cmp/compare.md" <<<"$out"
}
check compare_writes_table_and_png t_compare_writes_table_and_png

t_compare_without_classifier() {
  "$clvae" compare "$tmp/vae" --iwae 0 --out "$tmp/cmp2" >/dev/null 2>&1 && ! grep -q "FID" "$tmp/cmp2/compare.md" &&
    ! grep -q "IWAE (nats" "$tmp/cmp2/compare.md" && is_png "$tmp/cmp2/compare.png"
}
check compare_without_classifier t_compare_without_classifier

t_bad_input_exit_2() {
  local rc
  "$clvae" score "$tmp/vae" --classifier "$tmp/vae" --count 10 >/dev/null 2>"$tmp/e"; rc=$?
  [ $rc -eq 2 ] && grep -q "not a classifier" "$tmp/e" || { echo "score, not a classifier: $rc" >&2; return 1; }
  "$clvae" score "$tmp/cls" --classifier "$tmp/cls" --count 10 >/dev/null 2>&1; [ $? -eq 2 ] || { echo "score of a classifier" >&2; return 1; }
  "$clvae" score "$tmp/missing" --classifier "$tmp/cls" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "score, missing run" >&2; return 1; }
  "$clvae" score "$tmp/vae" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "score without --classifier" >&2; return 1; }
  "$clvae" score "$tmp/vae" --classifier "$tmp/cls" --count 1 >/dev/null 2>&1; [ $? -eq 2 ] || { echo "score --count 1" >&2; return 1; }
  "$clvae" compare "$tmp/vae" "$tmp/missing" --out "$tmp/cmp3" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "compare, missing run" >&2; return 1; }
  [ ! -e "$tmp/cmp3" ] || { echo "compare wrote output for bad input" >&2; return 1; }
  "$clvae" compare "$tmp/vae" --classifier "$tmp/ae" --out "$tmp/cmp3" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "compare, not a classifier" >&2; return 1; }
  "$clvae" compare --out "$tmp/cmp3" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "compare without runs" >&2; return 1; }
  "$clvae" compare "$tmp/vae" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || { echo "compare --bogus" >&2; return 1; }
}
check bad_input_exit_2 t_bad_input_exit_2

finish
