#!/usr/bin/env bash
# Runs every test (C binaries in build/tests, shell tests in tests/, the fuzz harnesses), also under a
# small work-group limit, the op tests also with CLBlast's and with tuned GEMM parameters, and ends
# with the line "N passed, M failed".
#
# Environment (set by 'make check' / 'make check SANITIZE=1'):
#   CLVAE_TEST_BUILD  the build folder whose tests/ to run (default build)
#   CLVAE             the clvae binary the shell tests run (default bin/clvae)
#   CLVAE_SANITIZE=1  the binaries are built with ASan + UBSan (build/asan): every test runs
#                     (pocl works under ASan); leaks are checked in the host-side tests only,
#                     because pocl and its LLVM leak by design and LeakSanitizer's tracer
#                     crashes on pocl's threads ("Tracer caught signal 11"). The fuzz
#                     harnesses are left to the normal run (they are ASan builds already).
#   CLVAE_FUZZ_SECONDS  how long each fuzz harness runs (default 20)
#   CLVAE_CL_WERROR=1   set here: kernels build with -Werror
#   CLVAE_TEST_KERNEL_CACHE  a folder of kernel binaries kept between runs (CI), see below
set -u
cd "$(dirname "$0")/.."
build=${CLVAE_TEST_BUILD:-build}
export CLVAE=${CLVAE:-bin/clvae}
sanitize=${CLVAE_SANITIZE:-0}
# The tests that need no OpenCL at all: no platform, no device, no kernel.
host_tests="test_config test_fileio test_image test_json test_plot test_safetensors test_sha256"
if [ "$sanitize" = 1 ]; then
  export ASAN_OPTIONS=detect_leaks=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

# Kernels build with -Werror in every test (CLVAE_CL_WERROR), so that a warning that one vendor's
# compiler would make an error fails here; tests/test_oclgrind.sh runs them under Oclgrind too
# (make check-oclgrind runs the rest: tools/check_oclgrind.sh).
export CLVAE_CL_WERROR=1
# Tests write caches only into a folder of their own.
scratch=$(mktemp -d)
export XDG_CACHE_HOME=$scratch/cache
# CLVAE_TEST_KERNEL_CACHE=DIR (CI): kernel binaries kept between runs. The run's cache starts as a
# copy of DIR (as if an earlier test had built them) and its new entries go back at the end;
# clvae checks every entry (checksum, device, driver) and rebuilds what does not match.
keep=${CLVAE_TEST_KERNEL_CACHE:-}
if [ -n "$keep" ] && [ -d "$keep" ]; then
  mkdir -p "$XDG_CACHE_HOME/clvae/kernels" && cp "$keep"/*.bin "$XDG_CACHE_HOME/clvae/kernels/" 2>/dev/null
fi
save_cache() {
  [ -n "$keep" ] && [ -d "$XDG_CACHE_HOME/clvae/kernels" ] && mkdir -p "$keep" &&
    cp -n "$XDG_CACHE_HOME"/clvae/kernels/*.bin "$keep/" 2>/dev/null
  rm -rf "$scratch"
}
trap save_cache EXIT
unset CLVAE_DEVICE CLVAE_KERNEL_DIR CLVAE_KERNEL_CACHE CLVAE_FAST_MATH CLVAE_TUNING CLVAE_TUNING_DIR \
  CLVAE_GEMM_DEFAULTS

passed=0
failed=0

# run LABEL ENV... -- COMMAND...: runs one test program, counts its PASS/FAIL lines;
# a program that fails without a FAIL line (a crash) counts as one failure.
run() {
  local label=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local out rc p f
  out=$(env "${envs[@]}" "$@" 2> "$scratch/stderr"); rc=$?
  p=$(grep -c '^PASS: ' <<<"$out"); f=$(grep -c '^FAIL: ' <<<"$out")
  sed "s/^\(PASS\|FAIL\): /\1: $label/" <<<"$out"
  if [ "$f" -gt 0 ] || [ $rc -ne 0 ]; then
    sed 's/^/    /' "$scratch/stderr" | tail -n 60
  fi
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL: $label$* exited with status $rc"
    f=1
  fi
  passed=$((passed + p)); failed=$((failed + f))
}

for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  leaks=()
  # Under ASan, the host-side tests also check for leaks (see the top of this file).
  if [ "$sanitize" = 1 ] && [[ " $host_tests " == *" ${t##*/} "* ]]; then
    leaks=(ASAN_OPTIONS=detect_leaks=1)
  fi
  run "" "${leaks[@]}" -- "$t"
done
for t in tests/test_*.sh; do
  run "" -- bash "$t"
done
# Device tests again as a small integrated GPU would limit them.
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  run "[wg64] " POCL_MAX_WORK_GROUP_SIZE=64 -- "$t"
done
run "[wg64] " POCL_MAX_WORK_GROUP_SIZE=64 -- bash tests/test_cli.sh
# The GEMM-using op tests again with CLBlast's own parameters (CLVAE_GEMM_DEFAULTS=1) and with
# the tuning cache of a quick `clvae tune` (the runs above use the built-in defaults): tuning
# must not change results. (test_crossdevice is not among them: it compares two devices that
# run with the same parameters, and ran above; under CLBlast's own, whose direct kernel takes
# the conv GEMMs, it cost 26 s of make check.)
op_tests="test_conv test_dense test_model test_train"
for t in $op_tests; do
  [ -x "$build/tests/$t" ] && run "[clblast-defaults] " CLVAE_GEMM_DEFAULTS=1 -- "$build/tests/$t"
done
if CLVAE_TUNING_DIR=$scratch/tuning "$CLVAE" tune --quick models/mnist_vae.cfg \
     > "$scratch/tune.log" 2>&1 && ls "$scratch"/tuning/*.json >/dev/null 2>&1; then
  echo "PASS: [tuned] clvae tune --quick models/mnist_vae.cfg"; passed=$((passed + 1))
  for t in $op_tests; do
    [ -x "$build/tests/$t" ] && run "[tuned] " CLVAE_TUNING_DIR="$scratch/tuning" -- "$build/tests/$t"
  done
else
  sed 's/^/    /' "$scratch/tune.log" | tail -n 30
  echo "FAIL: [tuned] clvae tune --quick models/mnist_vae.cfg"; failed=$((failed + 1))
fi
# Each fuzz harness replays its regression inputs, then fuzzes for a short time (make fuzz
# runs them longer).
if [ "$sanitize" != 1 ]; then
  for name in $(cd tests/fuzz && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//'); do
    run "" -- tools/fuzz.sh -t "${CLVAE_FUZZ_SECONDS:-20}" "$name"
  done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
