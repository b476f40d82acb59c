#!/usr/bin/env bash
# Data-parallel training under mpirun (Open MPI), two ranks on pocl's two pthread devices: the
# same global batches as one process (weights within float rounding), bit-identical reruns, a
# stop at 2 ranks resumed by one process, a NaN on one rank skipped by both, a killed rank that
# ends the job and leaves the checkpoint resumable, an uneven batch refused before any work.
set -u
TEST_FILE=test_mpi
. "$(dirname "$0")/lib.sh"
clvae=${CLVAE:-bin/clvae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$tmp/cache}
export POCL_DEVICES="pthread pthread"
mpi() { mpirun --allow-run-as-root --oversubscribe "$@"; }
train=(train models/digits_ae.cfg --no-figures)
# the largest parameter difference that inspect --against reports
diff_of() { "$clvae" inspect "$1" --against "$2" | sed -n 's/.*parameters differ by at most \([^ ]*\) .*/\1/p'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 < b + 0) }'; }

# one process and two ranks over the same global batches of 32 (16 per rank), 2 epochs
t_two_ranks_match_one() {
  local out d
  "$clvae" "${train[@]}" --epochs 2 --out "$tmp/one" > /dev/null 2>&1 || return 1
  out=$(mpi -np 2 "$clvae" "${train[@]}" --epochs 2 --out "$tmp/two" 2>&1) || { echo "$out" >&2; return 1; }
  grep -q "^rank 0 of 2: .*(0:0 cpu)$" <<<"$out" && grep -q "^rank 1 of 2: .*(0:1 cpu)$" <<<"$out" &&
    grep -q "^training digits_ae on 2 ranks (batches of 32, 16 per rank) into $tmp/two$" <<<"$out" &&
    [ "$(grep -c '^epoch [12]/2 ' <<<"$out")" -eq 2 ] || { echo "$out" >&2; return 1; }
  d=$(diff_of "$tmp/one" "$tmp/two")
  below "$d" 1e-5 || { echo "largest difference: '$d'" >&2; return 1; }
  # the losses are the global batches' (each rank's slice weighted by its size)
  paste -d, <(cut -d, -f2 "$tmp/one/metrics.csv") <(cut -d, -f2 "$tmp/two/metrics.csv") |
    awk -F, 'NR > 1 { d = $1 - $2; if (d < 0) d = -d; if (d > 1e-4) exit 1 }' || { paste "$tmp/one/metrics.csv" "$tmp/two/metrics.csv" >&2; return 1; }
}
check two_ranks_match_one t_two_ranks_match_one

t_reruns_bit_identical() {
  mpi -np 2 "$clvae" "${train[@]}" --epochs 2 --out "$tmp/two_b" > /dev/null 2>&1 || return 1
  [ "$(weights_hash "$tmp/two")" = "$(weights_hash "$tmp/two_b")" ] &&
    [ "$(diff_of "$tmp/two" "$tmp/two_b")" = 0 ] || return 1
  # the gradient sum in pieces of 0.01 MiB (several per step) adds in the same order
  CLVAE_BUCKET_MB=0.01 mpi -np 2 "$clvae" "${train[@]}" --epochs 2 --out "$tmp/two_c" > /dev/null 2>&1 &&
    [ "$(weights_hash "$tmp/two")" = "$(weights_hash "$tmp/two_c")" ] || return 1
  # and the sum that overlaps the backward pass (the default on GPUs) too, in one piece or several
  CLVAE_OVERLAP=1 mpi -np 2 "$clvae" "${train[@]}" --epochs 2 --out "$tmp/two_d" > /dev/null 2>&1 &&
    [ "$(weights_hash "$tmp/two")" = "$(weights_hash "$tmp/two_d")" ] &&
    CLVAE_OVERLAP=1 CLVAE_BUCKET_MB=0.01 mpi -np 2 "$clvae" "${train[@]}" --epochs 2 --out "$tmp/two_e" > /dev/null 2>&1 &&
    [ "$(weights_hash "$tmp/two")" = "$(weights_hash "$tmp/two_e")" ]
}
check reruns_bit_identical t_reruns_bit_identical

# the per-step account after training: where a step went and what a rank sent
t_step_account() {
  local out
  out=$(CLVAE_OVERLAP=1 mpi -np 2 "$clvae" "${train[@]}" --epochs 1 --out "$tmp/acct" 2>&1) || return 1
  grep -q "^rank 0 of 2, per step: [0-9.]* ms in all; [0-9.]* ms waiting for the backward pass's gradients (the sum overlaps it), [0-9.]* ms sum over the ranks after that, .*; [0-9]* KiB sent in 2.0 pieces of at most 1 MiB$" <<<"$out" || { echo "$out" >&2; return 1; }
  # on a CPU device the sum waits for the backward pass by default
  out=$(CLVAE_BUCKET_MB=0.01 mpi -np 2 "$clvae" "${train[@]}" --epochs 1 --out "$tmp/acct0" 2>&1) &&
    grep -q "^rank 0 of 2, per step: [0-9.]* ms in all; [0-9.]* ms gradient read-back, [0-9.]* ms waiting for the other ranks, [0-9.]* ms sum over the ranks, .*; [0-9]* KiB sent in [2-9].0 pieces of at most 0.01 MiB$" <<<"$out" || { echo "$out" >&2; return 1; }
  # one process has no such line
  ! "$clvae" "${train[@]}" --epochs 1 --out "$tmp/acct1" 2>&1 | grep -q "per step:"
}
check step_account t_step_account

# a stop (the Ctrl-C test hook) at step 30 of 2 ranks: every rank exits 130, rank 0 saved the
# position; one process continues it and ends where the straight run ended
t_stop_then_resume_alone() {
  local rc out
  out=$(CLVAE_FAULT_STOP=step:30 mpi -np 2 "$clvae" "${train[@]}" --epochs 2 --out "$tmp/stop" 2>&1); rc=$?
  [ $rc -eq 130 ] && grep -q "^interrupted: .*epoch 0 done, then 30 batches of epoch 1" <<<"$out" || { echo "$rc $out" >&2; return 1; }
  [ "$(grep -c '^interrupted' <<<"$out")" -eq 1 ] || { echo "$out" >&2; return 1; }
  "$clvae" train "$tmp/stop" --resume > /dev/null 2>&1 || return 1
  below "$(diff_of "$tmp/one" "$tmp/stop")" 1e-5
}
check stop_then_resume_alone t_stop_then_resume_alone

# a NaN in rank 1's input at step 3 (its fault hook alone): both ranks skip that step, so the
# run equals one where both had the fault, and differs from one without
t_nan_on_one_rank_skipped_by_all() {
  local out
  out=$(mpi -np 1 "$clvae" "${train[@]}" --epochs 1 --out "$tmp/nan1" : \
            -np 1 -x CLVAE_FAULT_NAN_BATCH=3 "$clvae" "${train[@]}" --epochs 1 --out "$tmp/nan1" 2>&1) || { echo "$out" >&2; return 1; }
  grep -q "1 of 47 steps skipped" <<<"$out" || { echo "$out" >&2; return 1; }
  CLVAE_FAULT_NAN_BATCH=3 mpi -np 2 "$clvae" "${train[@]}" --epochs 1 --out "$tmp/nan2" > /dev/null 2>&1 &&
    mpi -np 2 "$clvae" "${train[@]}" --epochs 1 --out "$tmp/nan0" > /dev/null 2>&1 || return 1
  [ "$(weights_hash "$tmp/nan1")" = "$(weights_hash "$tmp/nan2")" ] &&
    [ "$(weights_hash "$tmp/nan1")" != "$(weights_hash "$tmp/nan0")" ]
}
check nan_on_one_rank_skipped_by_all t_nan_on_one_rank_skipped_by_all

# one rank killed (SIGKILL) after the first checkpoint: the job ends non-zero, and the
# checkpoint is intact and resumable
t_killed_rank_ends_job() {
  local pids victim rc i
  (mpi -np 2 "$clvae" "${train[@]}" --epochs 1000 --out "$tmp/kill" > "$tmp/kill.log" 2>&1; echo $? > "$tmp/kill.rc") &
  for i in $(seq 300); do [ -f "$tmp/kill/checkpoint.safetensors" ] && break; sleep 0.1; done
  sleep 0.5
  pids=$(pgrep -f -- "--epochs 1000 --out $tmp/kill") || return 1
  victim=$(tail -n 1 <<<"$pids")
  kill -9 "$victim"
  for i in $(seq 200); do [ -f "$tmp/kill.rc" ] && break; sleep 0.1; done
  rc=$(cat "$tmp/kill.rc" 2>/dev/null) || { pkill -9 -f -- "--out $tmp/kill"; echo "mpirun still runs" >&2; return 1; }
  [ "$rc" -ne 0 ] || { cat "$tmp/kill.log" >&2; return 1; }
  "$clvae" inspect "$tmp/kill" > /dev/null &&
    "$clvae" train "$tmp/kill" --resume --epochs "$(( $("$clvae" inspect "$tmp/kill" --json | sed 's/.*"epochs_done": \([0-9]*\).*/\1/') + 1 ))" > /dev/null 2>&1
}
check killed_rank_ends_job t_killed_rank_ends_job

# which device each rank takes: the local rank's among those --device matches, or a list's item
t_devices_per_rank() {
  local out rc
  out=$(mpi -np 3 "$clvae" devices 2>&1 | sort) || { echo "$out" >&2; return 1; }
  grep -q "^rank 0 (local rank 0 of 3): device 0, 0:0 cpu (.*), shared with other ranks$" <<<"$out" &&
    grep -q "^rank 1 (local rank 1 of 3): device 1, 0:1 cpu (.*)$" <<<"$out" &&
    grep -q "^rank 2 (local rank 2 of 3): device 0, 0:0 cpu" <<<"$out" || { echo "$out" >&2; return 1; }
  out=$(mpi -np 2 "$clvae" devices --device 1,0 2>&1 | sort) &&
    grep -q "^rank 0 (local rank 0 of 2): device 1, 0:1" <<<"$out" &&
    grep -q "^rank 1 (local rank 1 of 2): device 0, 0:0" <<<"$out" || { echo "$out" >&2; return 1; }
  # a list outside mpirun names no one device
  out=$("$clvae" devices --device 0,1 2>&1); rc=$?
  [ $rc -eq 2 ] && grep -q "is a list, one device per rank" <<<"$out" || { echo "$rc $out" >&2; return 1; }
}
check devices_per_rank t_devices_per_rank

# a global batch that does not split over the ranks: exit 2 before any work, said once
t_uneven_batch_refused() {
  local rc out
  out=$(mpi -np 2 "$clvae" "${train[@]}" --batch 33 --out "$tmp/uneven" 2>&1); rc=$?
  [ $rc -eq 2 ] && [ ! -e "$tmp/uneven" ] &&
    [ "$(grep -c "train.batch = 33 does not split evenly over 2 ranks: use a multiple of 2" <<<"$out")" -eq 1 ] || { echo "$rc $out" >&2; return 1; }
}
check uneven_batch_refused t_uneven_batch_refused

finish
