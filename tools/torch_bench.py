#!/usr/bin/env python3
"""PyTorch reference for `make bench`: the thesis VAE of models/mnist_vae.cfg trained and sampled
in PyTorch on the same machine, images/s on one thread and on all cores.

The model follows the config layer for layer: Conv2d 1->32->64->64->64 (3x3, strides 1,2,2,1,
LeakyReLU 0.3), flatten, Linear heads to a 2-d mean and log-variance, reparameterisation,
Linear 2->3136, reshape to 64x7x7, ConvTranspose2d 64->64->64->32->1 (3x3, strides 1,2,2,1,
LeakyReLU 0.3, sigmoid last); loss: BCE summed over the pixels plus KL, mean over the batch;
Adam 1e-3; batch 128. Keras' 'same' padding is written as PyTorch's symmetric padding 1 (and
output_padding 1 for the stride-2 transposed convolutions): the shapes and FLOPs are the same,
only the side the odd padding row lands on differs, which does not matter for a timing.

Usage: torch_bench.py [--steps N] [--batch B] [--threads 1,all] [--data random|mnist]
                      [--compare CLVAE_JSON] [--json]

With --compare (the output of `clvae bench CFG --gemm --json`, as `make bench` runs it) it also
prints clvae's images/s over PyTorch's and the slowest GEMM call a conv or deconv layer makes in
a training step as a fraction of the square 1024^3's GFLOP/s.
"""
import argparse
import gzip
import json
import os
import sys
import time

# PyTorch runs the BLAS calls from its own threads: OpenBLAS' own pool on top of them only
# oversubscribes the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - a message, not a traceback
    sys.exit("torch_bench.py: PyTorch is missing; install it with 'tools/deps.sh --torch' "
             "(Debian's python3-torch) and run with /usr/bin/python3")


class ThesisVAE(nn.Module):
    """The convolutional VAE of models/mnist_vae.cfg."""

    def __init__(self, latent=2):
        super().__init__()
        act = lambda: nn.LeakyReLU(0.3)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=1, padding=1), act(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), act(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1), act(),
            nn.Conv2d(64, 64, 3, stride=1, padding=1), act(),
            nn.Flatten())
        self.mean = nn.Linear(64 * 7 * 7, latent)
        self.log_var = nn.Linear(64 * 7 * 7, latent)
        self.expand = nn.Linear(latent, 64 * 7 * 7)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 64, 3, stride=1, padding=1), act(),
            nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1), act(),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), act(),
            nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1), nn.Sigmoid())

    def decode(self, z):
        return self.decoder(self.expand(z).view(-1, 64, 7, 7))

    def forward(self, x):
        h = self.encoder(x)
        mu, log_var = self.mean(h), self.log_var(h)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        return self.decode(z), mu, log_var


def vae_loss(recon, x, mu, log_var):
    """Summed BCE over the pixels plus the KL term, averaged over the batch."""
    bce = nn.functional.binary_cross_entropy(recon, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())
    return (bce + kl) / x.shape[0]


def load_mnist(batch):
    """The first batch of MNIST's training images in [0, 1] from $CLVAE_DATA_DIR (or data/)."""
    root = os.environ.get("CLVAE_DATA_DIR", "data")
    for name in ("train-images-idx3-ubyte.gz", "mnist/train-images-idx3-ubyte.gz",
                 "train-images-idx3-ubyte", "mnist/train-images-idx3-ubyte"):
        path = os.path.join(root, name)
        if os.path.exists(path):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                raw = f.read()
            n = int.from_bytes(raw[4:8], "big")
            pix = torch.frombuffer(bytearray(raw[16:16 + min(n, batch) * 784]), dtype=torch.uint8)
            return pix.float().div(255).view(-1, 1, 28, 28)
    sys.exit("torch_bench.py: no MNIST under %s (make data), or use --data random" % root)


def measure(threads, steps, batch, data):
    """Training and sampling images/s with the given number of threads."""
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = ThesisVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = load_mnist(batch) if data == "mnist" else torch.rand(batch, 1, 28, 28)
    if x.shape[0] < batch:
        x = x.repeat((batch + x.shape[0] - 1) // x.shape[0], 1, 1, 1)[:batch]

    def step():
        opt.zero_grad(set_to_none=True)
        recon, mu, log_var = model(x)
        vae_loss(recon, x, mu, log_var).backward()
        opt.step()

    for _ in range(3):  # warm-up: allocator and thread pool settle
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    train = batch * steps / (time.perf_counter() - t0)
    z = torch.randn(batch, 2)
    with torch.no_grad():
        model.decode(z)
        t0 = time.perf_counter()
        for _ in range(steps):
            model.decode(z)
        sample = batch * steps / (time.perf_counter() - t0)
    return {"threads": threads, "train_images_per_s": train, "sample_images_per_s": sample}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", default="1,all", help="comma list of counts or 'all'")
    ap.add_argument("--data", choices=("random", "mnist"), default="random")
    ap.add_argument("--compare", metavar="CLVAE_JSON",
                    help="output of `clvae bench CFG [--gemm] --json` to print beside PyTorch's, "
                    "with the ratios and (--gemm) the slowest conv GEMM call against a 1024^3")
    ap.add_argument("--json", action="store_true", help="one JSON object per thread count")
    a = ap.parse_args()
    if a.steps < 1 or a.batch < 1:
        ap.error("--steps and --batch want numbers >= 1")
    cores = os.cpu_count() or 1
    counts = []
    for t in a.threads.split(","):
        counts.append(cores if t == "all" else int(t))
    results = [measure(t, a.steps, a.batch, a.data) for t in counts]
    if a.json:
        for r in results:
            print(json.dumps(dict(r, torch=torch.__version__, batch=a.batch, data=a.data)))
        return
    print("PyTorch %s, thesis VAE, batch %d, %s data, %d steps after 3 warm-up steps"
          % (torch.__version__, a.batch, a.data, a.steps))
    rows = [("PyTorch, %d thread%s" % (r["threads"], "" if r["threads"] == 1 else "s"),
             r["train_images_per_s"], r["sample_images_per_s"]) for r in results]
    c, gemms = read_clvae(a.compare) if a.compare else (None, [])
    if c:
        rows.insert(0, ("clvae (%s, %s)" % (c.get("device", "?")[:32], c.get("gemm_params", "?")),
                        c["train_images_per_s"], c["sample_images_per_s"]))
    w = max(len(r[0]) for r in rows)
    print("%-*s %14s %14s" % (w, "", "train img/s", "sample img/s"))
    for name, tr, sa in rows:
        print("%-*s %14.1f %14.1f" % (w, name, tr, sa))
    if not c:
        return
    for name, tr, sa in rows[1:]:
        print("%-*s %13.2fx %13.2fx" % (w, "clvae / " + name, c["train_images_per_s"] / tr,
                                        c["sample_images_per_s"] / sa))
    print_slowest_conv(gemms)


def read_clvae(path):
    """`clvae bench CFG --gemm --json`'s lines: the model's object and the GEMM calls' (one line
    each, the square 1024^3 last); a file of the model's object alone has no GEMM calls."""
    model, gemms = None, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            if "gemm" in obj:
                gemms.append(obj)
            elif "train_images_per_s" in obj:
                model = obj
    if model is None:
        sys.exit("torch_bench.py: no `clvae bench` result in %s" % path)
    return model, gemms


def print_slowest_conv(gemms):
    """The slowest GEMM call (GFLOP/s) that a conv or deconv layer makes in the training step,
    as a fraction of the square 1024^3's rate."""
    square = [g for g in gemms if g.get("made_by") == "square 1024^3"]
    convs = [g for g in gemms if set(g.get("kinds", "").split(",")) & {"conv", "deconv"}]
    if not square or not convs:
        print("slowest conv GEMM call: - (no `clvae bench --gemm` figures)")
        return
    sq, slow = square[0], min(convs, key=lambda g: g["gflop_s"])
    print("slowest conv GEMM call of a training step: %s (%d call%s: %s), %.1f GFLOP/s = %.2f x "
          "the 1024^3's %.1f GFLOP/s" % (slow["gemm"], slow["calls"],
                                         "" if slow["calls"] == 1 else "s", slow["made_by"],
                                         slow["gflop_s"], slow["gflop_s"] / sq["gflop_s"],
                                         sq["gflop_s"]))


if __name__ == "__main__":
    main()
