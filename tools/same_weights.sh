#!/usr/bin/env bash
# Weight fingerprints for the redesign: trains each model config briefly and records the SHA-256 of every checkpoint tensor (weights, Adam moments, position) and the epochs' losses; two binaries train bit-identically when their OUTFILEs are equal.
#
# usage: tools/same_weights.sh CLVAE_BIN OUTFILE [CFG...]     (default CFGs: models/*.cfg)
#
# Run from the repository root of a checkout (relative CFG paths resolve there). Compare two
# binaries on the same device with a plain diff of their OUTFILEs:
#   tools/same_weights.sh /path/to/old/bin/clvae old.txt
#   tools/same_weights.sh bin/clvae new.txt && diff old.txt new.txt && echo bit-identical
#
# Each config trains EPOCHS epochs on the first LIMIT training images with its own seed, batch
# and optimizer, no figures, into a temporary folder; the test pass after each epoch runs on the
# first TEST_LIMIT test images (a small IDX copy; 0: the config's whole test set). Then
# `clvae inspect` gives each tensor's SHA-256 and the hashes over all parameters and over the
# optimizer state; metrics.csv gives every epoch's losses (its timing columns, seconds and
# images_per_s, are left out). The GEMM tuning cache is ignored (CLVAE_TUNING=0) and the other
# variables that change the kernels or the maths are unset, so that only the binary and the
# device matter. The device is CLVAE_DEVICE's (else clvae's default) and is named on stderr.
#
# environment: DATA_DIR (data sets, default data), EPOCHS (2), LIMIT (320: with batch 128 the
# second epoch reshuffles and each epoch ends on a partial batch of 64), TEST_LIMIT (1000),
# KEEP (a folder: keep the run folders there instead of deleting them).
set -euo pipefail

if [ $# -lt 2 ]; then
    sed -n '4p' "$0" | sed 's/^# *//' >&2
    exit 2
fi
bin=$1
out=$2
shift 2
case $bin in /*) ;; */*) bin=$PWD/$bin ;; esac
[ -x "$bin" ] || { echo "same_weights: $bin is not an executable" >&2; exit 2; }

DATA_DIR=${DATA_DIR:-data}
EPOCHS=${EPOCHS:-2}
LIMIT=${LIMIT:-320}
TEST_LIMIT=${TEST_LIMIT:-1000}
[ -d "$DATA_DIR" ] || { echo "same_weights: no data folder $DATA_DIR (set DATA_DIR)" >&2; exit 2; }
export CLVAE_DATA_DIR
CLVAE_DATA_DIR=$(cd "$DATA_DIR" && pwd)
export CLVAE_TUNING=0
unset CLVAE_TUNING_DIR CLVAE_GEMM_DEFAULTS CLVAE_FAST_MATH CLVAE_CONV_PATH CLVAE_KERNEL_DIR \
    CLVAE_MAX_ALLOC CLVAE_FAULT_WRITE_AFTER CLVAE_FAULT_NAN_BATCH

if [ $# -eq 0 ]; then
    set -- models/*.cfg
fi
for cfg in "$@"; do
    [ -f "$cfg" ] || { echo "same_weights: no config $cfg" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# be32 N: N as 4 big-endian bytes.
be32() {
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
        $(($1 >> 8 & 255)) $(($1 & 255)))"
}

# raw FILE: FILE's bytes on stdout, FILE or FILE.gz, gzip or not.
raw() {
    local f=$1
    [ -f "$f" ] || f=$f.gz
    [ -f "$f" ] || { echo "same_weights: missing $1(.gz) (set DATA_DIR)" >&2; return 1; }
    gzip -dc -f "$f"
}

# test_spec SPEC: a dataset spec for the first TEST_LIMIT images of SPEC (an IDX copy with
# labels), or SPEC itself when it is not an MNIST-like test set or TEST_LIMIT is 0.
test_spec() {
    local spec=$1 sub
    case $spec in
        mnist:test) sub=mnist ;;
        fashion-mnist:test) sub=fashion-mnist ;;
        *) echo "$spec"; return ;;
    esac
    if [ "$TEST_LIMIT" -eq 0 ]; then echo "$spec"; return; fi
    local img=$tmp/$sub-test$TEST_LIMIT-images lbl=$tmp/$sub-test$TEST_LIMIT-labels
    if [ ! -f "$img" ]; then
        { printf '\x00\x00\x08\x03'; be32 "$TEST_LIMIT"; be32 28; be32 28
          raw "$CLVAE_DATA_DIR/$sub/t10k-images-idx3-ubyte" | tail -c +17 | head -c $((TEST_LIMIT * 784))
        } > "$img"
        { printf '\x00\x00\x08\x01'; be32 "$TEST_LIMIT"
          raw "$CLVAE_DATA_DIR/$sub/t10k-labels-idx1-ubyte" | tail -c +9 | head -c "$TEST_LIMIT"
        } > "$lbl"
        [ "$(wc -c < "$img")" -eq $((16 + TEST_LIMIT * 784)) ] &&
            [ "$(wc -c < "$lbl")" -eq $((8 + TEST_LIMIT)) ] ||
            { echo "same_weights: $spec has fewer than $TEST_LIMIT images" >&2; return 1; }
    fi
    echo "idx:$img,$lbl"
}

# cfg_data KEY CFG: the [data] KEY of CFG (empty when it has none).
cfg_data() {
    awk -v key="$1" '/^[ \t]*\[/ { sec = $0; gsub(/[][ \t\r]/, "", sec); next }
         sec == "data" && $0 ~ "^[ \t]*" key "[ \t]*=" { v = $0; sub(/^[^=]*=[ \t]*/, "", v);
             sub(/[ \t]+[#;].*$/, "", v); sub(/[ \t\r]+$/, "", v); t = v }
         END { print t }' "$2"
}

# cfg_test CFG: the [data] test key of CFG (default mnist:test).
cfg_test() {
    awk '/^[ \t]*\[/ { sec = $0; gsub(/[][ \t\r]/, "", sec); next }
         sec == "data" && /^[ \t]*test[ \t]*=/ { v = $0; sub(/^[^=]*=[ \t]*/, "", v);
             sub(/[ \t]+[#;].*$/, "", v); sub(/[ \t\r]+$/, "", v); t = v }
         END { print (t == "" ? "mnist:test" : t) }' "$1"
}

device=$("$bin" devices 2>/dev/null | sed -n 's/^selected: //p' | sed 's/  *\[default.*//' | head -1) || true
echo "same_weights: device ${device:-?}; $# configs; EPOCHS=$EPOCHS LIMIT=$LIMIT TEST_LIMIT=$TEST_LIMIT" >&2

# A prior ([data] codes = RUN) trains on the codes of a VQ-VAE run: the run this invocation
# trained from the config of RUN's name (models/mnist_vqvae.cfg for runs/mnist_vqvae), which
# must come before it in the list (models/*.cfg sorts it so); without one the prior is skipped.
declare -A trained
{
    echo "# tools/same_weights.sh EPOCHS=$EPOCHS LIMIT=$LIMIT TEST_LIMIT=$TEST_LIMIT CLVAE_TUNING=0"
    i=0
    for cfg in "$@"; do
        i=$((i + 1))
        name=$(basename "$cfg" .cfg)
        run=$tmp/run$i-$name
        codes=$(cfg_data codes "$cfg")
        if [ -n "$codes" ]; then
            src=${trained[$(basename "$codes")]:-}
            if [ -z "$src" ]; then
                echo "same_weights: $name skipped: it trains on the codes of $codes, whose config was not trained before it" >&2
                continue
            fi
            data=(--set "data.codes=$src")
        else
            data=(--set "data.test=$(test_spec "$(cfg_test "$cfg")")")
        fi
        start=$SECONDS
        if ! "$bin" train "$cfg" --out "$run" --no-figures --set "train.epochs=$EPOCHS" \
                --set "train.limit=$LIMIT" "${data[@]}" > "$tmp/train.log" 2>&1; then
            cat "$tmp/train.log" >&2
            echo "same_weights: training $cfg failed" >&2
            exit 1
        fi
        "$bin" inspect "$run" > "$tmp/inspect.txt" 2> "$tmp/inspect.err" ||
            { cat "$tmp/inspect.err" >&2; echo "same_weights: inspect $run failed" >&2; exit 1; }
        # position, tensor rows and the two combined hashes; spaces collapsed, paths dropped
        awk -v c="$name" '
            /^checkpoint:/ || /^tensor / || /^metrics:/ { next }
            { $1 = $1; print c, $0 }' "$tmp/inspect.txt"
        # every epoch of metrics.csv without the timing columns
        awk -F, -v c="$name" '
            NR == 1 { for (k = 1; k <= NF; k++) skip[k] = ($k == "seconds" || $k == "images_per_s") }
            { s = ""; for (k = 1; k <= NF; k++) if (!skip[k]) s = s (s == "" ? "" : ",") $k
              print c, "metrics", s }' "$run/metrics.csv"
        echo "same_weights: $name $((SECONDS - start)) s" >&2
        [ -z "${KEEP:-}" ] || { mkdir -p "$KEEP"; rm -rf "${KEEP:?}/$name"; cp -r "$run" "$KEEP/$name"; }
        trained[$name]=$run # kept in $tmp until the end: a prior may train on its codes
    done
} > "$out.tmp" || { rm -f "$out.tmp"; exit 1; }
mv "$out.tmp" "$out"
echo "same_weights: wrote $out" >&2
