#!/usr/bin/env bash
# Writes the clvae(1) man page to stdout, generated from the program's own help: `clvae --help`
# for the synopsis, options, environment and exit status, `clvae help COMMAND` for each command.
#
#   tools/gen_man.sh [BIN] > clvae.1      (BIN defaults to bin/clvae)
set -eu
bin=${1:-bin/clvae}
# roff-safe text: backslashes doubled, a leading . or ' escaped
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
help=$("$bin" --help)
version=$("$bin" --version | awk '{print $2}')
cmds=$(awk '/^commands:/ {on = 1; next} on && /^$/ {exit} on {print $1}' <<<"$help")
echo ".TH CLVAE 1 \"\" \"clvae $version\" \"User Commands\""
echo ".SH NAME"
echo "clvae \\- $(head -1 <<<"$help" | sed 's/^clvae [^:]*: //' | esc)"
echo ".SH SYNOPSIS"
echo ".B clvae"
echo "[\\-v] [\\-\\-device SPEC] COMMAND [ARGS...]"
echo ".SH COMMANDS"
for c in $cmds; do
  echo ".TP"
  echo ".B $c"
  "$bin" help "$c" | sed -n '1s/^[^:]*: //p' | esc
  echo ".RS"
  echo ".nf"
  "$bin" help "$c" | sed '1d' | esc
  echo ".fi"
  echo ".RE"
done
echo ".SH OPTIONS, ENVIRONMENT AND EXIT STATUS"
echo ".nf"
awk '/^options for every command:/ {on = 1} on {print}' <<<"$help" | esc
echo ".fi"
echo ".SH FILES"
echo "Example model configs: PREFIX/share/clvae/models; documentation: PREFIX/share/doc/clvae."
echo "Data sets: \$CLVAE_DATA_DIR, else \$XDG_DATA_HOME/clvae (~/.local/share/clvae), then ./data."
echo ".SH SEE ALSO"
echo "README.md and models/README.md in PREFIX/share/doc/clvae."
