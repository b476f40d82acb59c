#!/usr/bin/env bash
# Checks the layering of src/: every #include of a clvae header points to the file's own layer or
# one below it (docs/ARCHITECTURE.md), and no two modules include each other.
#
# usage: tools/check_layers.sh [ROOT]    (ROOT: a checkout, default the current folder)
# Prints one line per violation, "file:line: what", and exits 1 when there is any; else prints
# "layers: N files, M includes, no upward include, no include cycle" and exits 0.
set -u
root=${1:-.}
cd "$root" || exit 2

# What each layer may include besides itself (lower layers only).
declare -A may=(
  [io]=""
  [device]="io"
  [ops]="device io"
  [net]="ops device io"
  [data]="ops device io"
  [train]="net data ops device io"
  [eval]="train net data ops device io"
  [cli]="eval train net data ops device io"
)

# layer_of PATH: the layer a source or header belongs to (src/L/..., include/clvae/L/...).
layer_of() {
  case $1 in
    src/*/*) local r=${1#src/}; echo "${r%%/*}" ;;
    include/clvae/*/*) local r=${1#include/clvae/}; echo "${r%%/*}" ;;
    *) echo "" ;;
  esac
}

# module_of PATH: the unit a file belongs to, its folder and name without .c/.h and _internal
# (src/device/ctx.c, src/device/ctx_internal.h and include/clvae/device/ctx.h are one module);
# two modules include each other when each one's .c includes a header of the other.
module_of() {
  local f=${1#src/}; f=${f#include/clvae/}
  f=${f%.c}; f=${f%.h}; echo "${f%_internal}"
}

bad=0 nfiles=0 nincl=0
declare -A edge=()
while IFS= read -r f; do
  nfiles=$((nfiles + 1))
  from=$(layer_of "$f")
  if [ -z "${may[$from]+x}" ]; then
    echo "$f: in no layer of the table (src/<layer>/ or include/clvae/<layer>/)"; bad=1; continue
  fi
  while IFS=: read -r line inc; do
    [ -n "$line" ] || continue
    nincl=$((nincl + 1))
    case $inc in
      clvae/*/*) target=include/$inc ;;
      */*) target=src/$inc ;;
      *) target=$(dirname "$f")/$inc ;;
    esac
    if [ ! -f "$target" ]; then
      echo "$f:$line: includes \"$inc\", which is not a clvae header in a layer folder"; bad=1
      continue
    fi
    to=$(layer_of "$target")
    if [ "$to" != "$from" ] && [[ " ${may[$from]} " != *" $to "* ]]; then
      echo "$f:$line: includes \"$inc\" from layer '$to', above or beside '$from' (may use: ${may[$from]:-nothing})"
      bad=1
    fi
    # module edges from sources only: a header that includes another is not a dependency
    # cycle by itself (src/net/layer.h includes the net's public header, net.c includes it)
    a=$(module_of "$f") b=$(module_of "$target")
    [[ $f == *.c ]] && [ "$a" != "$b" ] && edge["$a>$b"]="$f:$line"
  done < <(grep -n '^#include "' "$f" | sed 's/^\([0-9]*\):#include "\([^"]*\)".*/\1:\2/')
done < <(find src include -name '*.[ch]' | sort)

for e in "${!edge[@]}"; do
  a=${e%%>*} b=${e#*>}
  if [[ "$a" < "$b" ]] && [ -n "${edge[$b>$a]+x}" ]; then
    echo "${edge[$e]}: $a and $b include each other (also ${edge[$b>$a]})"; bad=1
  fi
done
[ $bad = 0 ] && echo "layers: $nfiles files, $nincl includes, no upward include, no include cycle"
exit $bad
