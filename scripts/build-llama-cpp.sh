#!/usr/bin/env bash
# Builds llama.cpp targets (llama-server, llama-quantize) from the llama.cpp sources that the PyPI
# sdist of llama-cpp-python vendors: no GitHub access needed, only PyPI.
#   scripts/build-llama-cpp.sh                      # llama-quantize
#   scripts/build-llama-cpp.sh llama-server ...     # other targets, same build tree
#   scripts/build-llama-cpp.sh --print-bin TARGET   # where TARGET is (or will be) built
# Output: <cache>/llama.cpp/<key>/build/bin/<target>, where <cache> is scripts/cache-dir.sh
# (outside the clone, per user) and <key> the pinned LLAMA_CPP_PYTHON_VERSION, plus -<backend> for
# a GPU build. Concurrent runs wait for each other on a lock; an interrupted build resumes.
# Backend (LLAMA_BACKEND=cpu|cuda|metal|vulkan, else chosen here): CUDA when nvcc is found, Metal on
# macOS (llama.cpp's default there), Vulkan only when asked, else the CPU build. A GPU build that
# fails falls back to the CPU build (said on stderr) unless LLAMA_BACKEND asked for it.
# agent/engines/llama-server-process.ts looks for llama-server under the same keys.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/cache-dir.sh
. "$here/cache-dir.sh"
version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
jobs="${JOBS:-2}"
asked="${LLAMA_BACKEND:-}"
backend="$asked"
if [ -z "$backend" ]; then
  if [ "$(uname -s)" = "Darwin" ]; then backend=metal
  elif command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then backend=cuda
  else backend=cpu; fi
fi
case "$backend" in
  cpu) key="$version"; flags=() ;;
  cuda) key="$version-cuda"; flags=(-DGGML_CUDA=ON) ;;
  metal) key="$version-metal"; flags=() ;; # GGML_METAL is on by default on Apple
  vulkan) key="$version-vulkan"; flags=(-DGGML_VULKAN=ON) ;;
  *) echo "LLAMA_BACKEND must be cpu, cuda, metal or vulkan, got '$backend'" >&2; exit 2 ;;
esac
dest="$(titan_cache_dir)/llama.cpp/$key"

if [ "${1:-}" = "--print-bin" ]; then
  bin="$dest/build/bin/${2:?--print-bin needs a target}"
  cpu_bin="$(titan_cache_dir)/llama.cpp/$version/build/bin/$2"
  # A chosen GPU build that fell back to the CPU one: that one is the binary.
  if [ -z "$asked" ] && [ ! -x "$bin" ] && [ -x "$cpu_bin" ]; then bin="$cpu_bin"; fi
  echo "$bin"
  exit 0
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(llama-quantize)

if [ "$backend" != cpu ] && [ -z "$asked" ]; then
  # Chosen here, not asked for: a failed GPU build falls back to the CPU one.
  if ! LLAMA_BACKEND="$backend" "$0" "$@"; then
    echo "[llama.cpp] the $backend build failed; building for the CPU instead" >&2
    exec env LLAMA_BACKEND=cpu "$0" "$@"
  fi
  exit 0
fi
mkdir -p "$dest"
exec 9>"$dest.lock"
if ! flock -n 9; then
  echo "[llama.cpp] waiting for another build of $version to finish ($dest.lock)"
  flock 9
fi
src="$dest/llama_cpp_python-$version/vendor/llama.cpp"
if [ ! -f "$src/CMakeLists.txt" ]; then
  echo "[llama.cpp] pip download llama-cpp-python==$version (sdist, vendors llama.cpp)"
  python3 -m pip download --no-deps --no-binary :all: --quiet -d "$dest" "llama-cpp-python==$version"
  tar -xzf "$dest/llama_cpp_python-$version.tar.gz" -C "$dest"
fi
# GGML_NATIVE=OFF: a portable build (AVX2 level on x86), the same on every host sharing the cache.
# -march=native was measured on an Intel Xeon with AVX-512 and AMX: 3-4% fewer tokens/s at decode,
# 5% more at prompt evaluation, and its AMX code crashed where the VM lists AMX but faults on it
# (bench/results/llama-cpp-cpu-flags-2026-12-08T03-03-56Z-54040d9.txt, ADR 0019).
echo "[llama.cpp] configuring $src ($backend)"
cmake -S "$src" -B "$dest/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF ${flags[@]+"${flags[@]}"} >/dev/null
echo "[llama.cpp] building ${targets[*]} with -j$jobs"
cmake --build "$dest/build" --config Release -j"$jobs" --target "${targets[@]}"
for t in "${targets[@]}"; do echo "[llama.cpp] $dest/build/bin/$t"; done
