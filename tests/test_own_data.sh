#!/usr/bin/env bash
# Datasets of one's own (issue 17, item 13): folder:PATH of PNG files (grey or RGB, labels from
# sub-folders) and npy:IMAGES.npy[,LABELS.npy]; RGB data trains a 3-channel model whose
# figures are in colour; hostile files get a clear error (exit 2), never a crash.
set -u
TEST_FILE=test_own_data
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/cache CLVAE_TUNING_DIR=$tmp/tuning
unset CLVAE_DEVICE CLVAE_KERNEL_DIR CLVAE_KERNEL_CACHE
command -v python3 > /dev/null || { echo "PASS: $TEST_FILE skipped (no python3)"; exit 0; }

# Writes the data: grey and RGB PNG folders, .npy arrays, and hostile variants.
python3 - "$tmp" <<'PY'
import os, struct, sys, zlib
root = sys.argv[1]
def png(path, w, h, ch, seed):
    rows = b""
    for y in range(h):
        rows += b"\0" + bytes(((x * 31 + y * 17 + seed * 13 + k * 50) % 256) for x in range(w) for k in range(ch))
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    ct = 0 if ch == 1 else 2
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ct, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(data)
for lab in ("cat", "dog"):
    for i in range(40):
        png(f"{root}/grey/{lab}/{i:03d}.png", 8, 8, 1, i + (lab == "dog") * 100)
        png(f"{root}/rgb/{lab}/{i:03d}.png", 8, 8, 3, i + (lab == "dog") * 100)
for i in range(30):
    png(f"{root}/flat/{i:03d}.png", 8, 8, 1, i)
png(f"{root}/mixed/a.png", 8, 8, 1, 1); png(f"{root}/mixed/b.png", 9, 8, 1, 2)
png(f"{root}/both/a.png", 8, 8, 1, 1); png(f"{root}/both/sub/b.png", 8, 8, 1, 2)
os.makedirs(f"{root}/bad", exist_ok=True)
open(f"{root}/bad/x.png", "wb").write(b"not a png at all")
os.makedirs(f"{root}/empty", exist_ok=True)
def npy(path, descr, shape, payload):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    pad = 64 - (10 + len(d) + 1) % 64
    h = d + " " * pad + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload)
n = 64
npy(f"{root}/u8.npy", "|u1", (n, 8, 8), bytes((i * 7) % 256 for i in range(n * 64)))
npy(f"{root}/lab.npy", "<i8", (n,), b"".join(struct.pack("<q", i % 3) for i in range(n)))
npy(f"{root}/f32.npy", "<f4", (n, 1, 8, 8), b"".join(struct.pack("<f", (i % 100) / 99.0) for i in range(n * 64)))
npy(f"{root}/short.npy", "|u1", (n, 8, 8), bytes(100))
npy(f"{root}/range.npy", "<f4", (2, 1, 8, 8), b"".join(struct.pack("<f", 2.0) for i in range(128)))
npy(f"{root}/fortran.npy", "|u1", (2, 8, 8), bytes(128)); 
s = open(f"{root}/fortran.npy", "rb").read().replace(b"False", b"True ")
open(f"{root}/fortran.npy", "wb").write(s)
npy(f"{root}/badlab.npy", "<i8", (n,), b"".join(struct.pack("<q", 300) for i in range(n)))
npy(f"{root}/f64.npy", "<f8", (2, 8, 8), bytes(1024))
PY
[ -d "$tmp/grey" ] || { fail setup "python3 could not write the data"; finish; exit; }

# cfg NAME TRAIN TEST CHANNELS: a small dense AE on 8x8 images
cfg() {
  local c=$4 out=$((64 * $4))
  cat > "$tmp/$1.cfg" <<CFG
[model]
name = $1
kind = ae
[data]
train = $2
test = $3
[train]
epochs = 1
batch = 16
lr = 0.003
[input]
channels = $c
height = 8
width = 8
[flatten]
[dense]
units = 16
activation = relu
[latent]
size = 2
[dense]
units = 16
activation = relu
[dense]
units = $out
activation = sigmoid
CFG
}

t_folder_grey_labels() {
  cfg grey "folder:$tmp/grey" "folder:$tmp/grey" 1
  "$clvae" train "$tmp/grey.cfg" --out "$tmp/run_grey" > "$tmp/g.log" 2>&1 || { cat "$tmp/g.log" >&2; return 1; }
  [ -f "$tmp/run_grey/samples.png" ] && [ -f "$tmp/run_grey/latent.csv" ] || return 1
  # labels from the sub-folders: cat 0, dog 1
  cut -d, -f1 "$tmp/run_grey/latent.csv" | grep -q "^1$" || cut -d, -f3 "$tmp/run_grey/latent.csv" | grep -q "^1$" ||
    { head -3 "$tmp/run_grey/latent.csv" >&2; return 1; }
  cfg flat "folder:$tmp/flat" "folder:$tmp/flat" 1
  "$clvae" train "$tmp/flat.cfg" --out "$tmp/run_flat" --no-figures > "$tmp/f.log" 2>&1 || { cat "$tmp/f.log" >&2; return 1; }
}
check folder_grey_labels t_folder_grey_labels

t_folder_rgb_colour_figures() {
  cfg rgb "folder:$tmp/rgb" "folder:$tmp/rgb" 3
  "$clvae" train "$tmp/rgb.cfg" --out "$tmp/run_rgb" > "$tmp/r.log" 2>&1 || { cat "$tmp/r.log" >&2; return 1; }
  # PNG colour type (byte 25): 2 = RGB
  [ "$(od -An -tu1 -j25 -N1 "$tmp/run_rgb/samples.png" | tr -d ' ')" = 2 ] &&
    [ "$(od -An -tu1 -j25 -N1 "$tmp/run_rgb/reconstructions.png" | tr -d ' ')" = 2 ] || return 1
  # a grey model cannot take RGB data
  local err rc
  err=$("$clvae" train "$tmp/grey.cfg" --set "data.train=folder:$tmp/rgb" --out "$tmp/x" 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "do not fit the model's input" <<<"$err" && [ ! -e "$tmp/x" ] || { echo "$err" >&2; return 1; }
}
check folder_rgb_colour_figures t_folder_rgb_colour_figures

t_npy_uint8_float32_labels() {
  cfg u8 "npy:$tmp/u8.npy,$tmp/lab.npy" "npy:$tmp/u8.npy,$tmp/lab.npy" 1
  "$clvae" train "$tmp/u8.cfg" --out "$tmp/run_u8" --no-figures > "$tmp/u.log" 2>&1 || { cat "$tmp/u.log" >&2; return 1; }
  cfg f32 "npy:$tmp/f32.npy" "npy:$tmp/f32.npy" 1
  "$clvae" train "$tmp/f32.cfg" --out "$tmp/run_f32" --no-figures > "$tmp/f.log" 2>&1 || { cat "$tmp/f.log" >&2; return 1; }
  "$clvae" eval "$tmp/run_u8" > /dev/null
}
check npy_uint8_float32_labels t_npy_uint8_float32_labels

# hostile_is SPEC MESSAGE: training on SPEC stops before any work with exit 2 and MESSAGE
hostile_is() {
  local err rc
  cfg h "$1" "$1" 1
  err=$("$clvae" train "$tmp/h.cfg" --out "$tmp/hostile" --no-figures 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q -- "$2" <<<"$err" && [ ! -e "$tmp/hostile" ] || { echo "$1: $err (status $rc)" >&2; return 1; }
}
t_hostile_files() {
  hostile_is "folder:$tmp/mixed" "b.png is 9x8 with 1 channel, the images before it 8x8" &&
    hostile_is "folder:$tmp/both" "holds both PNG files" &&
    hostile_is "folder:$tmp/bad" "x.png: not a PNG file" &&
    hostile_is "folder:$tmp/empty" "holds no .png files" &&
    hostile_is "npy:$tmp/short.npy" "the shape needs 4096 (a truncated file?)" &&
    hostile_is "npy:$tmp/range.npy" "float32 images must lie in \[0, 1\]" &&
    hostile_is "npy:$tmp/fortran.npy" "Fortran-order" &&
    hostile_is "npy:$tmp/u8.npy,$tmp/badlab.npy" "label 300 at index 0" &&
    hostile_is "npy:$tmp/f64.npy" "dtype '<f8' is not supported" &&
    hostile_is "npy:$tmp/README.md" "cannot open" &&
    hostile_is "npy:README.md" "not a .npy file"
}
check hostile_files t_hostile_files

finish
