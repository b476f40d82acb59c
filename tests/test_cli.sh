#!/usr/bin/env bash
# The clvae command line: device listing and selection, exit codes, build logs, the cache.
set -u
TEST_FILE=test_cli
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/cache
unset CLVAE_DEVICE CLVAE_KERNEL_DIR CLVAE_KERNEL_CACHE

t_devices_lists_pocl() {
  local out; out=$("$clvae" devices 2>&1)
  [ $? -eq 0 ] && grep -q "Portable Computing Language" <<<"$out" && grep -q "^0 *0:0 *cpu" <<<"$out" &&
    grep -q "^selected: 0" <<<"$out"
}
check devices_lists_pocl t_devices_lists_pocl

t_devices_json() {
  local out; out=$("$clvae" devices --json) || return 1
  grep -q '"selected": 0' <<<"$out" && grep -q '"id": "0:0"' <<<"$out" &&
    grep -q '"max_work_group_size": [0-9]' <<<"$out" && grep -q '"fp64": \(true\|false\)' <<<"$out"
}
check devices_json t_devices_json

t_bad_spec_exit2_lists_devices() {
  local err rc
  err=$("$clvae" devices --device nosuch 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] && grep -q "no OpenCL device matches 'nosuch'" <<<"$err" &&
    grep -q "Portable Computing Language" <<<"$err" || return 1
  err=$(CLVAE_DEVICE=nosuch "$clvae" selftest 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] && grep -q "nosuch" <<<"$err"
}
check bad_spec_exit2_lists_devices t_bad_spec_exit2_lists_devices

t_two_devices_pick_second() {
  local out
  out=$(POCL_DEVICES="pthread pthread" "$clvae" devices --device 1) || return 1
  grep -q "^1 *0:1 " <<<"$out" && grep -q "^selected: 1" <<<"$out" || return 1
  out=$(POCL_DEVICES="pthread pthread" "$clvae" selftest --n 1000 --device 1) || return 1
  grep -q "device 1 (0:1)" <<<"$out" || return 1
  out=$(POCL_DEVICES="pthread pthread" CLVAE_DEVICE=0:1 "$clvae" selftest --n 1000) || return 1
  grep -q "device 1 (0:1)" <<<"$out" || return 1
  # --device wins over CLVAE_DEVICE
  out=$(POCL_DEVICES="pthread pthread" CLVAE_DEVICE=1 "$clvae" selftest --n 1000 --device 0) || return 1
  grep -q "device 0 (0:0)" <<<"$out"
}
check two_devices_pick_second t_two_devices_pick_second

t_usage_errors_exit2() {
  "$clvae" nosuchcommand 2>/dev/null; [ $? -eq 2 ] || return 1
  "$clvae" devices --bogus 2>/dev/null; [ $? -eq 2 ] || return 1
  "$clvae" selftest --n 0 2>/dev/null; [ $? -eq 2 ] || return 1
  "$clvae" selftest --device 2>/dev/null; [ $? -eq 2 ] || return 1
  "$clvae" 2>/dev/null; [ $? -eq 2 ] || return 1
  "$clvae" --help | grep -q "^  devices" || return 1
  "$clvae" help selftest | grep -q "usage: clvae selftest" || return 1
  "$clvae" --version | grep -q "^clvae [0-9]"
}
check usage_errors_exit2 t_usage_errors_exit2

t_broken_kernel_prints_log_exit1() {
  mkdir -p "$tmp/k" && cp cl/*.cl "$tmp/k/" &&
    sed -i 's/x\[x_off + i\] = v;/x[x_off + i] = v + not_declared;/' "$tmp/k/basic.cl"
  local err rc
  err=$(CLVAE_KERNEL_DIR=$tmp/k "$clvae" selftest --n 100 2>&1); rc=$?
  [ $rc -eq 1 ] && grep -q "building kernel file cl/basic.cl" <<<"$err" &&
    grep -q "not_declared" <<<"$err" && grep -q "basic.cl:7" <<<"$err" || return 1
  # the same folder unbroken works: sources really come from CLVAE_KERNEL_DIR
  cp cl/basic.cl "$tmp/k/basic.cl"
  CLVAE_KERNEL_DIR=$tmp/k "$clvae" selftest --n 100 >/dev/null
}
check broken_kernel_prints_log_exit1 t_broken_kernel_prints_log_exit1

t_cache_hit_then_rebuild_after_corruption() {
  rm -rf "$XDG_CACHE_HOME"
  local out
  out=$("$clvae" -vv selftest --n 100 2>&1) || return 1
  grep -q "built cl/basic.cl from source" <<<"$out" && grep -q "stored cl/basic.cl" <<<"$out" || return 1
  out=$("$clvae" -vv selftest --n 100 2>&1) || return 1
  grep -q "kernel cache: hit for cl/basic.cl" <<<"$out" || return 1
  local f; f=$(ls "$XDG_CACHE_HOME"/clvae/kernels/*.bin | head -1)
  printf 'garbage' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
  out=$("$clvae" selftest --n 100 2>&1) || return 1
  grep -q "kernel cache: ignoring .*checksum mismatch" <<<"$out" || return 1
  out=$("$clvae" -vv selftest --n 100 2>&1) || return 1
  grep -q "kernel cache: hit" <<<"$out" || return 1
  # CLVAE_KERNEL_CACHE=0: neither read nor written
  rm -rf "$XDG_CACHE_HOME"
  out=$(CLVAE_KERNEL_CACHE=0 "$clvae" -vv selftest --n 100 2>&1) || return 1
  grep -q "built cl/basic.cl from source" <<<"$out" && [ ! -e "$XDG_CACHE_HOME/clvae" ]
}
check cache_hit_then_rebuild_after_corruption t_cache_hit_then_rebuild_after_corruption

t_unwritable_cache_is_a_warning() {
  rm -rf "$XDG_CACHE_HOME"; mkdir -p "$tmp/ro"; touch "$tmp/ro/file"
  local out
  out=$(CLVAE_KERNEL_CACHE=$tmp/ro/file/kernels "$clvae" selftest --n 100 2>&1) || return 1
  grep -q "warning: kernel cache: cannot store" <<<"$out" && grep -q "selftest passed" <<<"$out"
}
check unwritable_cache_is_a_warning t_unwritable_cache_is_a_warning

finish
