#!/usr/bin/env bash
# tools/check_layers.sh: the tree passes, and a planted upward include or a planted pair of
# modules that include each other is reported by file:line with exit status 1.
set -u
TEST_FILE=test_layers
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
check_layers=$PWD/tools/check_layers.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

t_tree_passes() {
  local out
  out=$("$check_layers" . 2>&1) || { echo "$out" >&2; return 1; }
  grep -q "^layers: [0-9]* files, [0-9]* includes, no upward include, no include cycle$" <<<"$out"
}
check tree_passes t_tree_passes

# fresh_copy NAME: a copy of the tree's src, include and tools in $tmp/NAME (printed).
fresh_copy() {
  local d=$tmp/$1
  mkdir -p "$d" && cp -r src include tools "$d"/ && echo "$d"
}

t_upward_include_is_named() {
  local d out rc line f=src/ops/basic.c
  d=$(fresh_copy upward) || return 1
  "$check_layers" "$d" > /dev/null || return 1 # the copy passes before the plant
  # the plant goes right after the file's first #include
  line=$(grep -n '^#include ' "$d/$f" | head -1 | cut -d: -f1)
  sed -i "${line}a #include \"clvae/train/train.h\"" "$d/$f"
  line=$((line + 1))
  out=$("$check_layers" "$d" 2>&1); rc=$?
  [ $rc -eq 1 ] || { echo "exit status $rc: $out" >&2; return 1; }
  grep -q "^$f:$line: includes \"clvae/train/train.h\" from layer 'train', above or beside 'ops'" \
    <<<"$out" || { echo "$out" >&2; return 1; }
  ! grep -q "no upward include" <<<"$out"
}
check upward_include_is_named t_upward_include_is_named

t_mutual_include_is_named() {
  local d out rc
  d=$(fresh_copy mutual) || return 1
  # two new modules of ops whose sources include each other's headers (a header including
  # another is no cycle by itself: src/net/layer.h includes the net's public header)
  printf '/* planted: A */\n#ifndef PA_H\n#define PA_H\n#endif\n' > "$d/include/clvae/ops/planted_a.h"
  printf '/* planted: B */\n#ifndef PB_H\n#define PB_H\n#endif\n' > "$d/include/clvae/ops/planted_b.h"
  printf '/* planted: A */\n#include "clvae/ops/planted_a.h"\n#include "clvae/ops/planted_b.h"\n' \
    > "$d/src/ops/planted_a.c"
  printf '/* planted: B */\n#include "clvae/ops/planted_b.h"\n#include "clvae/ops/planted_a.h"\n' \
    > "$d/src/ops/planted_b.c"
  out=$("$check_layers" "$d" 2>&1); rc=$?
  [ $rc -eq 1 ] || { echo "exit status $rc: $out" >&2; return 1; }
  # both places are named, one as the line's file:line and one in the parentheses
  grep -q "ops/planted_a and ops/planted_b include each other" <<<"$out" &&
    grep -q "src/ops/planted_a.c:3" <<<"$out" &&
    grep -q "src/ops/planted_b.c:3" <<<"$out" || { echo "$out" >&2; return 1; }
  [ "$(grep -c . <<<"$out")" -eq 1 ] || { echo "more than the one planted cycle: $out" >&2; return 1; }
}
check mutual_include_is_named t_mutual_include_is_named

finish
