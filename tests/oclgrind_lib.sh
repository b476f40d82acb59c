# Oclgrind helpers shared by tests/test_oclgrind.sh and tools/check_oclgrind.sh.

# Oclgrind's runtime as an ICD (Debian: /usr/lib/oclgrind/liboclgrind-rt-icd.so), or "".
oclgrind_icd_lib=
for f in /usr/lib/oclgrind/liboclgrind-rt-icd.so /usr/lib/*/oclgrind/liboclgrind-rt-icd.so \
         /usr/local/lib/liboclgrind-rt-icd.so /usr/lib/*/liboclgrind-rt-icd.so; do
  [ -f "$f" ] && { oclgrind_icd_lib=$f; break; }
done

# oclgrind_icd_folder DIR: an OCL_ICD_VENDORS folder with the system's ICDs (pocl) and Oclgrind's.
oclgrind_icd_folder() {
  mkdir -p "$1"
  local f
  for f in /etc/OpenCL/vendors/*.icd; do
    [ -f "$f" ] && ! grep -q oclgrind "$f" && cp "$f" "$1/"
  done
  echo "$oclgrind_icd_lib" > "$1/oclgrind.icd"
}

# The lines of an Oclgrind report (errors, races, divergence, API misuse) on stdin, counted.
# Every report of Oclgrind's plugins starts with one of these; "Oclgrind: N errors generated"
# closes a run that hit --max-errors.
og_report_re='^(Invalid |Uninitialized |.*[Dd]ata race|Work-group divergence|Work-item divergence|Oclgrind - |Oclgrind: |Unaligned |Unsupported |Unhandled |Unrecognized )'
og_count() { grep -c -E "$og_report_re"; }

# og_clean FILE: true when FILE holds no Oclgrind report; else prints a summary to stderr.
og_clean() {
  local n; n=$(og_count < "$1")
  [ "$n" -eq 0 ] && return 0
  echo "  $n Oclgrind report lines in $1; the kinds and kernels:" >&2
  grep -A2 -E "$og_report_re" "$1" | grep -E "$og_report_re|Kernel:" |
    sed 's/ at .* address .*//; s/address 0x[0-9a-f]*//' | sort | uniq -c | sort -rn | head -20 >&2
  grep -A6 -E "$og_report_re" "$1" | head -40 >&2
  return 1
}

# og_run PREFIX COMMAND...: COMMAND under `oclgrind --data-races --uninitialized --check-api`
# (out-of-bounds checks are on by default), stdout to PREFIX.out, stderr to PREFIX.err; true when
# it exits 0 with no report. OG_FLAGS replaces the three checks.
og_run() {
  local p=$1; shift
  # shellcheck disable=SC2086 # OG_FLAGS: words
  oclgrind ${OG_FLAGS:---data-races --uninitialized --check-api} "$@" > "$p.out" 2> "$p.err"
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "  exit status $rc: oclgrind ... $*" >&2
    tail -n 20 "$p.err" >&2
  fi
  og_clean "$p.err" && [ $rc -eq 0 ]
}
