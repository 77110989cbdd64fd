#!/usr/bin/env bash
# Installs what tailor needs (Debian packages; a Python virtual environment with the pinned torch wheel) and
# builds it. Safe to run again: it checks before it installs, and the build is incremental.
#
#   ./setup.sh            everything (the test suites and benchmarks too)
#   ./setup.sh TARGET...  only those build targets and what they need (./run.sh builds `tailor`)
#
#   TAILOR_VENV       virtual environment (default ~/.cache/tailor/venv, outside the clone so clones share it)
#   TAILOR_BUILD_DIR  build directory (default ./build)
#   TAILOR_JOBS       parallel compile jobs (default 2; a torch file needs ~1.2 GB of memory)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${TAILOR_VENV:-$HOME/.cache/tailor/venv}
build=${TAILOR_BUILD_DIR:-$root/build}
jobs=${TAILOR_JOBS:-2}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

apt_packages=(
  build-essential cmake ninja-build pkg-config ccache git python3 python3-venv
  libcaf-dev libsentencepiece-dev libboost-dev libboost-system-dev libssl-dev nlohmann-json3-dev
  catch2 libcli11-dev libspdlog-dev libsqlite3-dev libjs-chart.js libpcre2-dev libutf8proc-dev
  chromium # only for the dashboard's browser test (tests/dashboard_browser_test.sh), which skips without it
  libgloo-dev # headers only, which c10d's ProcessGroupGloo.hpp includes; the code is torch's own, in libtorch_cpu
)

install_debian_packages() {
  local missing=() package
  for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "need root (or sudo) to install: ${missing[*]}"; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_python_environment() {
  local stamp="$venv/.tailor-requirements" wanted
  wanted=$(sha256sum "$root/requirements.txt" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -x "$venv/bin/python" ]; then
    return
  fi
  if [ ! -x "$venv/bin/python" ]; then
    say "creating the Python virtual environment in $venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
  fi
  say "installing the pinned Python packages (torch is a large download, once per machine)"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r "$root/requirements.txt"
  echo "$wanted" >"$stamp"
}

find_cuda_toolkit() {
  # LibTorch's CMake config needs the CUDA toolkit (nvcc) to link the CUDA build, even with no GPU.
  command -v nvcc >/dev/null && return
  if [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
    return
  fi
  say "the CUDA toolkit (nvcc) was not found; LibTorch's CMake config needs it to link the CUDA wheel."
  say "install the CUDA toolkit under /usr/local/cuda or put nvcc on PATH"
  exit 1
}

build_tailor() {
  find_cuda_toolkit
  if [ ! -f "$build/build.ninja" ]; then
    say "configuring the build in $build"
    mkdir -p "$build"
    cmake -S "$root" -B "$build" -G Ninja -DTAILOR_VENV="$venv" >"$build/configure.log" 2>&1 ||
      { cat "$build/configure.log" >&2; exit 1; }
  fi
  say "building ${*:-everything} (incremental; jobs=$jobs)"
  cmake --build "$build" --parallel "$jobs" ${*:+--target "$@"}
}

install_debian_packages
install_python_environment
build_tailor "$@"
