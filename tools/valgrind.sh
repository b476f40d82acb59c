#!/usr/bin/env bash
# make valgrind: memcheck on a 1-epoch training run of a small digits VAE and on the host-side tests; PASS/FAIL lines.
#
# Any invalid access, use of uninitialised memory or leak (definite, indirect or possible) is
# an error, except the driver-stack reports in tools/valgrind.supp. Under valgrind the CPU
# looks different to pocl (no AVX-512), so kernels built natively do not match: a first run
# under --tool=none (about 5 times slower than native, not memcheck's 30 to 50) builds them
# into build/valgrind/cache, which later runs reuse; the memcheck run then finds them built.
set -u
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind: not installed (tools/deps.sh valgrind)" >&2; exit 1; }
[ -x bin/clvae ] || { echo "valgrind: build first (make)" >&2; exit 1; }

work=build/valgrind
mkdir -p "$work/cache"
export XDG_CACHE_HOME=$PWD/$work/cache
unset CLVAE_DEVICE CLVAE_KERNEL_DIR CLVAE_KERNEL_CACHE CLVAE_FAST_MATH
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

memcheck=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
          --show-leak-kinds=definite,indirect,possible
          --errors-for-leak-kinds=definite,indirect,possible
          --track-origins=yes --num-callers=40 --gen-suppressions=all
          --suppressions=tools/valgrind.supp)

failed=0
# report NAME RC LOG: a PASS line, or a FAIL line and the log's error reports.
report() {
  if [ "$2" -eq 0 ]; then
    echo "PASS: valgrind $1"
    grep -E "in use at exit|All heap blocks|definitely lost|indirectly lost|possibly lost:|ERROR SUMMARY" "$3" |
      sed 's/^==[0-9]*== */  /'
  else
    echo "FAIL: valgrind $1 (exit status $2; log $3)"
    grep -vE "set address range perms" "$3" | grep -E "^==[0-9]+== " | head -80 >&2
    failed=$((failed + 1))
  fi
}

# The dense VAE of the training tests (digits_cfg in tests/lib.sh).
. tests/lib.sh
cfg=$tmp/digits_vae.cfg
digits_cfg "$cfg"

echo "valgrind: building the kernels as pocl sees the CPU under valgrind (slow the first time)"
if ! valgrind --tool=none -q bin/clvae train "$cfg" --epochs 1 --out "$tmp/warm" \
     > "$tmp/warm.log" 2>&1; then
  echo "FAIL: valgrind warm-up run (bin/clvae train under --tool=none)"
  tail -20 "$tmp/warm.log" >&2
  exit 1
fi

log=$work/train.log
"${memcheck[@]}" bin/clvae train "$cfg" --epochs 1 --out "$tmp/run" > "$log" 2>&1
report "clvae train digits_vae --epochs 1" $? "$log"

for t in test_config test_image test_json test_plot test_safetensors test_sha256; do
  log=$work/$t.log
  "${memcheck[@]}" "build/tests/$t" > "$log" 2>&1
  report "$t" $? "$log"
done
[ "$failed" -eq 0 ]
