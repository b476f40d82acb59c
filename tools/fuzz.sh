#!/usr/bin/env bash
# Runs libFuzzer harnesses (build/fuzz/fuzz_NAME): replays tests/fuzz/regressions/NAME/, then fuzzes for a bounded time; PASS/FAIL lines.
#
#   tools/fuzz.sh [-t SECONDS] NAME...     (make fuzz-build first; make fuzz does both)
#
# Each harness starts from its committed seeds (tests/fuzz/corpus_NAME, read only) and the
# corpus that earlier runs grew in build/fuzz/corpus/NAME (new inputs go there). A crash,
# leak, UBSan report or timeout leaves its input in build/fuzz/artifacts/NAME/ and is a
# FAIL; copy the input into tests/fuzz/regressions/NAME/ once the bug is fixed.
set -u
cd "$(dirname "$0")/.."

seconds=120
if [ "${1:-}" = "-t" ]; then seconds=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: tools/fuzz.sh [-t SECONDS] NAME..." >&2; exit 2; }

# The harnesses write their files under $TMPDIR: a folder of this run, in memory when possible
# (/dev/shm: disk files make them about 15 times slower), removed at the end even after a crash.
base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
TMPDIR=$(mktemp -d "$base/clvae-fuzz.XXXXXX") || exit 1
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

# Slow inputs (a hang) and memory blow-ups count as failures too.
opts=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1)
failed=0
for name in "$@"; do
  bin=build/fuzz/fuzz_$name
  if [ ! -x "$bin" ]; then
    echo "FAIL: fuzz_$name built ($bin is missing: run make fuzz-build)"
    failed=$((failed + 1)); continue
  fi
  log=$(mktemp)
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")

  # Every input that ever crashed a harness is replayed first.
  regs=()
  for f in tests/fuzz/regressions/"$name"/*; do [ -f "$f" ] && regs+=("$f"); done
  if [ ${#regs[@]} -gt 0 ]; then
    if "$bin" "${opts[@]}" "${dict[@]}" "${regs[@]}" > "$log" 2>&1; then
      echo "PASS: fuzz_$name replays_${#regs[@]}_regressions"
    else
      echo "FAIL: fuzz_$name replays_${#regs[@]}_regressions"
      grep -E "^(Running|==[0-9]+==ERROR|SUMMARY|.*runtime error|fuzz_$name: )" "$log" | head -20 | sed 's/^/    /' >&2
      failed=$((failed + 1))
    fi
  fi

  corpus=build/fuzz/corpus/$name
  artifacts=build/fuzz/artifacts/$name
  mkdir -p "$corpus" "$artifacts"
  "$bin" "${opts[@]}" "${dict[@]}" -max_total_time="$seconds" -artifact_prefix="$artifacts/" \
    "$corpus" "tests/fuzz/corpus_$name" > "$log" 2>&1
  rc=$?
  # "#N DONE cov: ... exec/s: E rss: ..." and "Done N runs in S second(s)"
  done_line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -1)
  runs=$(grep -oE "^Done [0-9]+ runs in [0-9]+ second" "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "PASS: fuzz_$name ${seconds}s"
    echo "  fuzz_$name: ${runs:-no run count}; ${done_line:-no DONE line}"
  else
    echo "FAIL: fuzz_$name ${seconds}s"
    echo "  fuzz_$name: exit status $rc; the input is in $artifacts/:" >&2
    grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written|fuzz_$name: )" "$log" | head -20 | sed 's/^/    /' >&2
    failed=$((failed + 1))
  fi
  rm -f "$log"
done
[ "$failed" -eq 0 ]
