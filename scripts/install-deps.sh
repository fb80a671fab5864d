#!/usr/bin/env bash
# Installs every Debian package evokernel needs to build, test and run. Idempotent: packages
# already present are left alone and nothing is downloaded at build or run time afterwards.
# Usage: scripts/install-deps.sh            (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config git binutils
  # reference + baseline: PyTorch (Python, for KernelBench task files) and a fast BLAS behind it
  python3 python3-torch python3-numpy libopenblas0-pthread
  # libraries
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libfmt-dev libspdlog-dev libssl-dev
  libsqlite3-dev libcurl4-openssl-dev libcpp-httplib-dev libseccomp-dev
  # the PostgreSQL memory bank: libpq to build it, the server for its tests
  libpq-dev postgresql
  # the OpenCL backend: ICD loader and headers, and PoCL (OpenCL on this CPU) to run kernels
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # the sanitizer job (scripts/test-sanitizers.sh): clang, its ASan/UBSan runtimes and libFuzzer,
  # LLVM's OpenMP (the runner and evokernel-peaks use OpenMP), llvm-symbolizer for stack traces
  clang libclang-rt-dev libomp-dev llvm
  # the HTML report test renders reports in headless Chromium (skipped when absent)
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#PACKAGES[@]} packages present"
fi

# PyTorch must see OpenBLAS, not the reference BLAS (~15x slower, which would inflate every
# speedup). The openblas-pthread alternative has the higher priority; make sure it is selected.
blas_alt=libblas.so.3-$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
if update-alternatives --query "$blas_alt" >/dev/null 2>&1; then
  current=$(update-alternatives --query "$blas_alt" | awk '/^Value:/ {print $2}')
  case "$current" in
    *openblas*) ;;
    *) echo "install-deps: selecting OpenBLAS for $blas_alt (was $current)"
       $SUDO update-alternatives --auto "$blas_alt" ;;
  esac
fi

# The interpreter that evokernel uses for PyTorch must import torch.
if ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  echo "install-deps: /usr/bin/python3 cannot import torch after installing python3-torch" >&2
  exit 1
fi
echo "install-deps: ok (torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'))"
