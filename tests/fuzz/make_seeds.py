#!/usr/bin/env python3
# Writes the committed seed corpora tests/fuzz/corpus_{config,data,checkpoint}/ (run from the repository root; needs bin/clvae and the digits data).
"""The seeds are small valid inputs of each harness's format (see the comment at the top of
tests/fuzz/fuzz_*.c). They are committed; this script only shows how they were made and
remakes them. The checkpoint seed is trained by bin/clvae on the digits (one epoch of the
first 64 images), so it needs an OpenCL device and CLVAE_DATA_DIR (or data/)."""
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def out(corpus, name, data):
    d = os.path.join(HERE, "corpus_" + corpus)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    # mtime 0: the same bytes every time
    return gzip.compress(data, mtime=0)


# ---- config: INI text, then optionally "@set" and one override per line --------------
DIGITS_VAE = """# a dense VAE on the 8x8 digits (tests/test_train_cli.sh)
[model]
name = digits_vae
[data]
train = digits:train
test = digits:test
[train]
epochs = 2
batch = 64
lr = 0.003
[input]
channels = 1
height = 8
width = 8
[flatten]
[dense]
units = 32
activation = relu
[latent]
size = 2
[dense]
units = 32
activation = relu
[dense]
units = 64
activation = sigmoid
"""

AE_SGD = """; a plain autoencoder with every [train] and [loss] key\r
[model]\r
name = ae\r
kind = ae\r
[train]\r
epochs = 3\r
batch = 16\r
limit = 100\r
optimizer = sgd\r
lr = 1e-2\r
momentum = 0.9\r
weight_decay = 0.0001\r
beta1 = 0.9\r
beta2 = 0.999\r
eps = 1e-8\r
seed = 7\r
shuffle = 0\r
sample_latent = 0\r
[loss]\r
reconstruction = mse_mean\r
beta = 0.5\r
[input]\r
channels = 3\r
height = 6\r
width = 5\r
[conv]\r
filters = 4\r
size = 3x1\r
stride = 1x2\r
dilation = 2x1\r
padding = valid\r
bias = 0\r
activation = leaky_relu\r
slope = 0.2\r
[flatten]\r
[latent]\r
size = 3\r
[dense]\r
units = 90   # 3 x 6 x 5\r
activation = tanh\r
"""

with open(os.path.join(ROOT, "models", "mnist_vae.cfg")) as f:
    out("config", "mnist_vae.cfg", f.read())
with open(os.path.join(HERE, "tiny.cfg")) as f:
    TINY = f.read()
out("config", "tiny.cfg", TINY)
out("config", "digits_vae.cfg", DIGITS_VAE)
out("config", "ae_sgd.cfg", AE_SGD)
out("config", "digits_vae_set.cfg",
    DIGITS_VAE + "\n@set\ntrain.lr=3e-4\ndense#2.units=16\nmodel.kind=ae\ntrain.seed = 2\n")
out("config", "tiny_set.cfg",
    TINY + "\n@set\nconv.filters=3\ndeconv.output_padding=1x1\ntrain.epochs=5\n")
out("config", "bad_reshape.cfg",
    "[input]\nchannels = 1\nheight = 4\nwidth = 4\n[flatten]\n[latent]\nsize = 2\n"
    "[dense]\nunits = 16\n[reshape]\nchannels = 2\nheight = 4\nwidth = 4\n")


# ---- data: byte 0 = mode (1 digits, 2 gzip it, 4 images + labels split at bytes 1-2) --
def idx_images(n, h, w):
    return struct.pack(">IIII", 0x803, n, h, w) + bytes((i * 37) % 256 for i in range(n * h * w))


def idx_labels(n):
    return struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))


def pair(images, labels):
    return struct.pack("<H", len(images)) + images + labels


imgs, lbls = idx_images(3, 4, 5), idx_labels(3)
out("data", "idx_images_raw", b"\x00" + imgs)
out("data", "idx_images_gz", b"\x02" + imgs)
out("data", "idx_images_gzfile", b"\x00" + gz(imgs))
out("data", "idx_images_gz2members", b"\x00" + gz(imgs[:10]) + gz(imgs[10:]))
out("data", "idx_pair_raw", b"\x04" + pair(imgs, lbls))
out("data", "idx_pair_gz", b"\x06" + pair(imgs, lbls))
out("data", "idx_pair_gzfiles", b"\x04" + pair(gz(imgs), gz(lbls)))
rows = subprocess.run(["sh", "-c", 'zcat "${CLVAE_DATA_DIR:-data}/digits/digits.csv.gz" | head -3'],
                      cwd=ROOT, check=True, capture_output=True).stdout
out("data", "digits_raw", b"\x01" + rows)
out("data", "digits_gz", b"\x03" + rows)
out("data", "digits_crlf_blanks", b"\x01" + rows.replace(b"\n", b"\r\n").replace(b",", b", ", 5)
    + b"\r\n\r\n")
out("data", "digits_gzfile", b"\x01" + gz(rows))


# ---- checkpoint: safetensors files ----------------------------------------------------
def safetensors(tensors, meta=None):
    """tensors: list of (name, dtype, shape, bytes), written back to back."""
    header, off = {}, 0
    if meta:
        header["__metadata__"] = meta
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(t[3] for t in tensors)


clvae = os.path.join(ROOT, "bin", "clvae")
with tempfile.TemporaryDirectory() as tmp:
    cfg = os.path.join(tmp, "tiny.cfg")
    with open(cfg, "w") as f:
        f.write(TINY)
    subprocess.run([clvae, "train", cfg, "--epochs", "1", "--limit", "64", "--no-figures",
                    "--out", os.path.join(tmp, "run")], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(tmp, "run", "checkpoint.safetensors"), "rb") as f:
        ckpt = f.read()
out("checkpoint", "tiny_checkpoint.safetensors", ckpt)

# the same weights without clvae's metadata and training state: what --init reads
hlen = struct.unpack("<Q", ckpt[:8])[0]
header = json.loads(ckpt[8:8 + hlen])
data = ckpt[8 + hlen:]
plain = [(k, v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
         for k, v in sorted(header.items(), key=lambda kv: kv[1].get("data_offsets", [0])[0])
         if k != "__metadata__" and not k.startswith(("optimizer.", "train."))]
out("checkpoint", "tiny_weights.safetensors", safetensors(plain))
# every dtype, a scalar, an empty tensor, metadata; a U8 tensor shifts those after it
out("checkpoint", "dtypes.safetensors", safetensors([
    ("a", "U8", [3], b"\x01\x02\x03"),
    ("b", "F32", [2], struct.pack("<2f", 1.5, -2.0)),
    ("c", "I32", [], struct.pack("<i", -7)),
    ("d", "U32", [1, 1], struct.pack("<I", 7)),
    ("e", "I64", [0, 4], b""),
    ("f", "U64", [1], struct.pack("<Q", 1 << 40)),
], {"format": "pt", "note": "caf\u00e9 \"quoted\"\n"}))
print("seeds written under", HERE, file=sys.stderr)
