#!/usr/bin/env bash
# Builds llama.cpp's llama-quantize (and, on request, other targets) from the llama.cpp sources that
# the PyPI sdist of llama-cpp-python vendors: no GitHub access needed, only PyPI.
#   scripts/build-llama-cpp.sh                    # llama-quantize
#   scripts/build-llama-cpp.sh llama-server ...   # other targets, same build tree
# Output: .cache/llama.cpp/build/bin/<target>. Override the version with LLAMA_CPP_PYTHON_VERSION.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
dest="$root/.cache/llama.cpp"
jobs="${JOBS:-2}"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(llama-quantize)

mkdir -p "$dest"
# The physical path: CMake bakes its paths into the build tree, so reaching .cache through a
# symlink (a git worktree sharing the main checkout's .cache) must not look like another tree,
# which would rebuild everything.
dest="$(cd "$dest" && pwd -P)"
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
