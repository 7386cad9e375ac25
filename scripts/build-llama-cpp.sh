#!/usr/bin/env bash
# Builds llama.cpp targets (llama-server, llama-quantize) from the llama.cpp sources that the PyPI
# sdist of llama-cpp-python vendors: no GitHub access needed, only PyPI.
#   scripts/build-llama-cpp.sh                      # llama-quantize
#   scripts/build-llama-cpp.sh llama-server ...     # other targets, same build tree
#   scripts/build-llama-cpp.sh --print-bin TARGET   # where TARGET is (or will be) built
# Output: <cache>/llama.cpp/<version>/build/bin/<target>, where <cache> is scripts/cache-dir.sh
# (outside the clone, per user) and <version> the pinned LLAMA_CPP_PYTHON_VERSION. Concurrent runs
# wait for each other on a lock; an interrupted build resumes where it stopped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/cache-dir.sh
. "$here/cache-dir.sh"
version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
dest="$(titan_cache_dir)/llama.cpp/$version"
jobs="${JOBS:-2}"

if [ "${1:-}" = "--print-bin" ]; then
  echo "$dest/build/bin/${2:?--print-bin needs a target}"
  exit 0
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(llama-quantize)

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
echo "[llama.cpp] configuring $src"
cmake -S "$src" -B "$dest/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF >/dev/null
echo "[llama.cpp] building ${targets[*]} with -j$jobs"
cmake --build "$dest/build" --config Release -j"$jobs" --target "${targets[@]}"
for t in "${targets[@]}"; do echo "[llama.cpp] $dest/build/bin/$t"; done
