#!/usr/bin/env bash
# make check-oclgrind: clvae's kernels under Oclgrind's checks (`oclgrind --data-races
# --uninitialized --check-api`, out-of-bounds checks on by default): the quick part that make check
# runs too (tests/test_oclgrind.sh), `clvae selftest --all` on each conv path, every op test with
# small shapes (CLVAE_TEST_SMALL=1), and a few training steps of the thesis VAE and of the digits
# AE. Any Oclgrind report fails its test. Kernels build with -Werror (CLVAE_CL_WERROR=1). Ends
# with the line "N passed, M failed".
#
# Environment: CLVAE_TEST_BUILD (default build), CLVAE (default bin/clvae),
#   CLVAE_OCLGRIND_TIMEOUT  seconds per op test (default 3600)
set -u
cd "$(dirname "$0")/.."
build=${CLVAE_TEST_BUILD:-build}
export CLVAE=${CLVAE:-bin/clvae}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export XDG_CACHE_HOME=$scratch/cache CLVAE_TEST_SMALL=1 CLVAE_CL_WERROR=1
unset CLVAE_DEVICE CLVAE_KERNEL_DIR CLVAE_KERNEL_CACHE CLVAE_FAST_MATH CLVAE_TUNING CLVAE_TUNING_DIR \
  CLVAE_GEMM_DEFAULTS CLVAE_CONV_PATH CLVAE_KERNEL_COPIES
. tests/oclgrind_lib.sh
timeout_s=${CLVAE_OCLGRIND_TIMEOUT:-3600}
passed=0
failed=0
pass() { echo "PASS: [oclgrind] $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: [oclgrind] $1"; failed=$((failed + 1)); }

if ! command -v oclgrind >/dev/null; then
  fail "oclgrind is not installed (make deps installs it)"
  echo "$passed passed, $failed failed"
  exit 1
fi

# The quick part, as make check runs it.
out=$(bash tests/test_oclgrind.sh 2> "$scratch/quick.err"); rc=$?
sed 's/^\(PASS\|FAIL\): /\1: [oclgrind] /' <<<"$out"
p=$(grep -c '^PASS: ' <<<"$out"); f=$(grep -c '^FAIL: ' <<<"$out")
[ "$f" -gt 0 ] && sed 's/^/    /' "$scratch/quick.err" | tail -n 60
[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
passed=$((passed + p)); failed=$((failed + f))

# og_check NAME COMMAND...: one PASS or FAIL for a command under oclgrind.
og_check() {
  local name=$1; shift
  local s; s=$(date +%s)
  if og_run "$scratch/run" "$@" 2> "$scratch/why"; then
    pass "$name ($(( $(date +%s) - s )) s)"
  else
    fail "$name"; sed 's/^/    /' "$scratch/why" | head -n 60
  fi
}

# Every kernel file, each conv path (auto takes both on its small shapes already).
for path in gemm direct; do
  CLVAE_CONV_PATH=$path og_check "selftest --all, CLVAE_CONV_PATH=$path" "$CLVAE" selftest --all
done

# The op tests with small shapes: their own PASS/FAIL lines, and one FAIL per test with a report.
# (test_program is left out: it makes build and kernel-name errors on purpose, which --check-api
# reports as such, and Oclgrind's build log ignores #line, so its file:line check cannot hold.)
op_tests="test_activation test_concat test_conv test_dense test_latent test_loss test_noise
  test_optim test_reduce test_rng test_xent test_tensor test_norm test_vq test_masked
  test_xent_spatial test_groupnorm test_spatial test_embed test_ddpm test_gemm"

# og_test NAME [CASES]: test binary NAME under the three checks (only CASES, a comma-separated
# list, when given: CLVAE_TEST_CASES): its PASS/FAIL lines, then one PASS or FAIL for the reports.
og_test() {
  local t=$1 label=$1${2:+ $2} out=$scratch/$1${2:+.$2}
  local s; s=$(date +%s)
  CLVAE_TEST_CASES=${2:-} timeout "$timeout_s" oclgrind --data-races --uninitialized \
    --check-api "$build/tests/$t" > "$out.out" 2> "$out.err"
  local rc=$?
  sed 's/^\(PASS\|FAIL\): /\1: [oclgrind] /' "$out.out" | grep -E '^(PASS|FAIL): '
  local p f; p=$(grep -c '^PASS: ' "$out.out"); f=$(grep -c '^FAIL: ' "$out.out")
  passed=$((passed + p)); failed=$((failed + f))
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
    fail "$label exited with status $rc$([ $rc -eq 124 ] && echo " (over ${timeout_s} s)")"
    tail -n 20 "$out.err" | sed 's/^/    /'
  elif og_clean "$out.err" 2> "$scratch/why"; then
    pass "$label: no Oclgrind report ($(( $(date +%s) - s )) s)"
  else
    fail "$label: Oclgrind reports"; sed 's/^/    /' "$scratch/why" | head -n 60
  fi
}

# test_conv runs case by case, each in its own process: Oclgrind's memory grows with the work a
# process has simulated (1.8 GB after 80 s of one case), and the whole of test_conv in one
# process was killed by the kernel's OOM killer at 23 GB on a 24 GB machine.
per_case="test_conv"
for t in $op_tests; do
  [ -x "$build/tests/$t" ] || { fail "$t: not built"; continue; }
  if [[ " $per_case " == *" $t "* ]]; then
    for c in $(grep -o 'RUN(t_[a-z0-9_]*)' "tests/$t.c" | sed 's/RUN(\(.*\))/\1/'); do
      og_test "$t" "$c"
    done
  else
    og_test "$t"
  fi
done

# Training steps. The thesis VAE: `clvae bench` (two warm-up steps, one timed step and a sampling
# pass on random inputs, batch 1); the digits AE: 8 steps and the test pass; all checks. Slow:
# minutes on a 2-core machine (the CLBlast GEMMs in the simulator), hence the timeout.
og_check "thesis VAE (models/mnist_vae.cfg): bench --batch 1 --steps 1" \
  timeout "$timeout_s" "$CLVAE" bench models/mnist_vae.cfg --batch 1 --steps 1
og_check "digits AE (models/digits_ae.cfg): 8 training steps + test pass" \
  "$CLVAE" train models/digits_ae.cfg --epochs 1 --limit 256 --no-figures --out "$scratch/digits"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
