#!/usr/bin/env bash
# Builds llama.cpp targets (llama-server, llama-quantize) from the llama.cpp sources that the PyPI
# sdist of llama-cpp-python vendors: no GitHub access needed, only PyPI.
#   scripts/build-llama-cpp.sh                      # llama-quantize
#   scripts/build-llama-cpp.sh llama-server ...     # other targets, same build tree
#   scripts/build-llama-cpp.sh --print-bin TARGET   # where TARGET is (or will be) built
#   scripts/build-llama-cpp.sh --print-src          # where the llama.cpp sources are (or will be)
# Output: <cache>/llama.cpp/<key>/build/bin/<target>, where <cache> is scripts/cache-dir.sh
# (outside the clone, per user) and <key> the pinned LLAMA_CPP_PYTHON_VERSION plus -<backend>; the
# sources are in <cache>/llama.cpp/<version>/. Concurrent runs wait for each other on a lock; an
# interrupted build resumes.
# The CPU build is for this host's instruction set (GGML_NATIVE, as llama.cpp's own build does by
# default): its key ends with a hash of the CPU's feature flags, so a cache shared by hosts with
# different CPUs holds one build each (agent/engines/llama-server-process.ts computes the same key).
# GPU builds stay portable (GGML_NATIVE=OFF): their work is on the GPU.
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
# This CPU's feature flags (x86 `flags`, Arm `Features`; else the kernel and machine), hashed.
cpu_features_hash() {
  local f
  f="$(sed -n -E '/^(flags|Features)[[:space:]]*:/{s/^[^:]*: //p;q;}' /proc/cpuinfo 2>/dev/null || true)"
  [ -n "$f" ] || f="$(uname -sm)"
  if command -v sha256sum >/dev/null 2>&1; then printf '%s' "$f" | sha256sum | cut -c1-12
  else printf '%s' "$f" | shasum -a 256 | cut -c1-12; fi
}
cpu_key="$version-cpu-$(cpu_features_hash)"
# Whether AMX tile instructions really run here: a virtual machine can list amx_tile in
# /proc/cpuinfo and still fault on them (ggml's AMX matmul then crashes llama-server). A probe
# thread, as ggml's compute threads do after asking the kernel for the tile state, decides.
amx_runs() {
  grep -qw amx_tile /proc/cpuinfo 2>/dev/null || return 1
  local dir rc=0
  dir="$(mktemp -d)"
  cat > "$dir/amx.c" <<'C'
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <immintrin.h>
static void *tile(void *arg) {
  unsigned char cfg[64] __attribute__((aligned(64)));
  memset(cfg, 0, sizeof cfg);
  cfg[0] = 1; cfg[16] = 64; cfg[48] = 16;
  _tile_loadconfig(cfg);
  _tile_zero(0);
  _tile_release();
  return arg;
}
int main(void) {
  pthread_t t;
  if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */)) return 1;
  pthread_create(&t, 0, tile, 0);
  return pthread_join(t, 0);
}
C
  { cc -O2 -mamx-tile -pthread "$dir/amx.c" -o "$dir/amx" && timeout 10 "$dir/amx"; } >/dev/null 2>&1 || rc=$?
  rm -rf "$dir"
  return "$rc"
}
case "$backend" in
  cpu) key="$cpu_key"; flags=(-DGGML_NATIVE=ON) ;;
  cuda) key="$version-cuda"; flags=(-DGGML_NATIVE=OFF -DGGML_CUDA=ON) ;;
  metal) key="$version-metal"; flags=(-DGGML_NATIVE=OFF) ;; # GGML_METAL is on by default on Apple
  vulkan) key="$version-vulkan"; flags=(-DGGML_NATIVE=OFF -DGGML_VULKAN=ON) ;;
  *) echo "LLAMA_BACKEND must be cpu, cuda, metal or vulkan, got '$backend'" >&2; exit 2 ;;
esac
dest="$(titan_cache_dir)/llama.cpp/$key"
sources="$(titan_cache_dir)/llama.cpp/$version"
src="$sources/llama_cpp_python-$version/vendor/llama.cpp"
if [ "${1:-}" = "--print-src" ]; then echo "$src"; exit 0; fi

if [ "${1:-}" = "--print-bin" ]; then
  bin="$dest/build/bin/${2:?--print-bin needs a target}"
  cpu_bin="$(titan_cache_dir)/llama.cpp/$cpu_key/build/bin/$2"
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
# The sources, shared by every key of this version (fetched once, under their own lock).
mkdir -p "$sources"
exec 8>"$sources.sources.lock"
flock 8
if [ ! -f "$src/CMakeLists.txt" ]; then
  echo "[llama.cpp] pip download llama-cpp-python==$version (sdist, vendors llama.cpp)"
  python3 -m pip download --no-deps --no-binary :all: --quiet -d "$sources" "llama-cpp-python==$version"
  tar -xzf "$sources/llama_cpp_python-$version.tar.gz" -C "$sources"
fi
exec 8>&-
if [ "$backend" = cpu ] && grep -qw amx_tile /proc/cpuinfo 2>/dev/null && ! amx_runs; then
  echo "[llama.cpp] this CPU lists AMX but its tile instructions fault here: building without AMX"
  no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  flags+=(-DCMAKE_C_FLAGS="$no_amx" -DCMAKE_CXX_FLAGS="$no_amx")
fi
echo "[llama.cpp] configuring $src ($backend)"
cmake -S "$src" -B "$dest/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF ${flags[@]+"${flags[@]}"} >/dev/null
echo "[llama.cpp] building ${targets[*]} with -j$jobs"
cmake --build "$dest/build" --config Release -j"$jobs" --target "${targets[@]}"
for t in "${targets[@]}"; do echo "[llama.cpp] $dest/build/bin/$t"; done
