# Shared helpers of the shell tests: PASS/FAIL lines like the C tests print.
failures=0
pass() { echo "PASS: $TEST_FILE $1"; }
fail() { echo "FAIL: $TEST_FILE $1"; shift; for l in "$@"; do echo "  $l" >&2; done; failures=$((failures + 1)); }
# check NAME COMMAND...: passes when the command succeeds (runs only when CLVAE_TEST_CASES, a
# comma-separated list of names, is unset or names it).
check() {
  local n=$1; shift
  [ -n "${CLVAE_TEST_CASES:-}" ] && [[ ",$CLVAE_TEST_CASES," != *",$n,"* ]] && return 0
  if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi
}
finish() { [ "$failures" -eq 0 ]; }
# digits_cfg FILE: writes the small dense VAE on the 8x8 digits that the training tests use.
digits_cfg() {
  cat > "$1" <<'CFG'
# a dense VAE on the 8x8 digits, small enough for tests
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
CFG
}
# digits_ddpm_cfg FILE: writes a small diffusion model on the 8x8 digits (a time-conditioned
# U-Net block, T = 100) that the diffusion tests use.
digits_ddpm_cfg() {
  cat > "$1" <<'CFG'
[model]
name = digits_ddpm
kind = ddpm
[data]
train = digits:train
test = digits:test
[train]
epochs = 3
batch = 64
lr = 0.002
seed = 3
[diffusion]
steps = 100
[input]
name = x
channels = 1
height = 8
width = 8
[time_embed]
dim = 16
[dense]
units = 32
activation = silu
[dense]
name = temb
units = 16
[conv]
name = c1
from = x
filters = 16
size = 3
[add]
from = c1, temb
[groupnorm]
name = h1
groups = 4
activation = silu
[conv]
filters = 16
size = 3
stride = 2
padding = same
activation = silu
[upsample]
name = u
[concat]
from = u, h1
[conv]
filters = 16
size = 3
activation = silu
[conv]
filters = 1
size = 3
CFG
}

# png_size FILE: "WIDTHxHEIGHT" from the IHDR chunk.
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'; }

# weights_hash RUN: the SHA-256 over a run's parameter tensors, the one over its optimizer
# state and (when it has any) the one over its layers' buffers, from `clvae inspect` (equal:
# bit-identical weights).
weights_hash() { "${clvae:-bin/clvae}" inspect "$1" | awk '/^(parameters|optimizer|buffers) sha256/ { printf "%s ", $3 }'; }
