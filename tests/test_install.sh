#!/usr/bin/env bash
# make install PREFIX=... (issue 17, item 14): the installed clvae works from any folder with
# the data found through CLVAE_DATA_DIR or $XDG_DATA_HOME/clvae; the man page is generated from
# the help (every command in it); the bash completion offers commands and each one's options.
set -u
TEST_FILE=test_install
. "$(dirname "$0")/lib.sh"
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/cache CLVAE_TUNING_DIR=$tmp/tuning
unset CLVAE_DEVICE CLVAE_KERNEL_DIR CLVAE_KERNEL_CACHE CLVAE_DATA_DIR
pfx=$tmp/prefix
make --no-print-directory -s install PREFIX="$pfx" > "$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail setup "make install failed"; finish; exit; }

t_installed_files() {
  [ -x "$pfx/bin/clvae" ] && [ -f "$pfx/share/clvae/models/mnist_vae.cfg" ] &&
    [ -f "$pfx/share/doc/clvae/README.md" ] && [ -f "$pfx/share/man/man1/clvae.1" ] &&
    [ -f "$pfx/share/bash-completion/completions/clvae" ]
}
check installed_files t_installed_files

t_runs_from_any_folder() {
  mkdir -p "$tmp/elsewhere" "$tmp/xdg/clvae"
  ln -s "$root/data/digits" "$tmp/xdg/clvae/digits"
  local out
  # data through $XDG_DATA_HOME/clvae, from a folder without data/
  out=$(cd "$tmp/elsewhere" && XDG_DATA_HOME=$tmp/xdg "$pfx/bin/clvae" train \
        "$pfx/share/clvae/models/digits_ae.cfg" --epochs 1 --limit 64 --no-figures --out run 2>&1) ||
    { echo "$out" >&2; return 1; }
  [ -f "$tmp/elsewhere/run/checkpoint.safetensors" ] || return 1
  # and through CLVAE_DATA_DIR, which comes first
  out=$(cd "$tmp/elsewhere" && CLVAE_DATA_DIR=$root/data XDG_DATA_HOME=$tmp/nowhere "$pfx/bin/clvae" \
        eval run 2>&1) || { echo "$out" >&2; return 1; }
  # neither: the error names where it looked
  out=$(cd "$tmp/elsewhere" && XDG_DATA_HOME=$tmp/nowhere "$pfx/bin/clvae" eval run 2>&1)
  grep -q "$tmp/nowhere/clvae/digits/digits.csv.gz not found" <<<"$out" || { echo "$out" >&2; return 1; }
}
check runs_from_any_folder t_runs_from_any_folder

# tune and bench --gemm default to the thesis VAE's config: the installed copy from elsewhere
t_default_config_installed() {
  local out
  out=$(cd "$tmp/elsewhere" && "$pfx/bin/clvae" tune --shapes 2>&1) || { echo "$out" >&2; return 1; }
  grep -q "recording one training step of $pfx/share/clvae/models/mnist_vae.cfg" <<<"$out" || { echo "$out" >&2; return 1; }
}
check default_config_installed t_default_config_installed

t_man_page_from_help() {
  local man=$pfx/share/man/man1/clvae.1 c
  grep -q '^\.TH CLVAE 1' "$man" || return 1
  for c in $("$pfx/bin/clvae" --help | awk '/^commands:/ {on = 1; next} on && /^$/ {exit} on {print $1}'); do
    grep -q "^\.B $c\$" "$man" || { echo "no $c in the man page" >&2; return 1; }
  done
  grep -q "usage: clvae train CFG" "$man" && grep -q "CLVAE_DATA_DIR" "$man" || return 1
  if command -v groff > /dev/null; then
    groff -man -Tascii -ww "$man" > /dev/null 2> "$tmp/groff.err" && [ ! -s "$tmp/groff.err" ] ||
      { cat "$tmp/groff.err" >&2; return 1; }
  fi
}
check man_page_from_help t_man_page_from_help

# complete WORDS...: the completions bash offers for the last word
complete_words() {
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _clvae; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$pfx/share/bash-completion/completions/clvae" "$@"
}
t_bash_completion() {
  local out
  out=$(complete_words "$pfx/bin/clvae" tr)
  [ "$out" = train ] || { echo "tr: $out" >&2; return 1; }
  out=$(complete_words "$pfx/bin/clvae" train x.cfg --ep)
  [ "$out" = --epochs ] || { echo "--ep: $out" >&2; return 1; }
  out=$(complete_words "$pfx/bin/clvae" --device 0 sample run --s)
  grep -qx -- --seed <<<"$out" || { echo "--s: $out" >&2; return 1; }
  out=$(complete_words "$pfx/bin/clvae" help comp)
  [ "$out" = compare ] || { echo "help comp: $out" >&2; return 1; }
}
check bash_completion t_bash_completion

t_uninstall() {
  make --no-print-directory -s uninstall PREFIX="$pfx" > /dev/null 2>&1 &&
    [ ! -e "$pfx/bin/clvae" ] && [ ! -e "$pfx/share/clvae" ] && [ ! -e "$pfx/share/man/man1/clvae.1" ]
}
check uninstall t_uninstall

finish
