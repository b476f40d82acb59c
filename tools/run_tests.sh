#!/usr/bin/env bash
# Runs every test (C binaries in build/tests, shell tests in tests/), also under a
# small work-group limit, and ends with the line "N passed, M failed".
set -u
cd "$(dirname "$0")/.."

# Tests write caches only into a folder of their own.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export XDG_CACHE_HOME=$scratch/cache
unset CLVAE_DEVICE CLVAE_KERNEL_DIR CLVAE_KERNEL_CACHE CLVAE_FAST_MATH

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

for t in build/tests/test_*; do
  [ -x "$t" ] || continue
  run "" -- "$t"
done
for t in tests/test_*.sh; do
  run "" -- bash "$t"
done
# Device tests again as a small integrated GPU would limit them.
for t in build/tests/test_*; do
  [ -x "$t" ] || continue
  run "[wg64] " POCL_MAX_WORK_GROUP_SIZE=64 -- "$t"
done
run "[wg64] " POCL_MAX_WORK_GROUP_SIZE=64 -- bash tests/test_cli.sh

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
