#!/usr/bin/env bash
# Builds a CPU-only Ollama from its Go module (cached per version; time-boxed).
#   scripts/build-ollama.sh [timeout-seconds]   (OLLAMA_VERSION overrides the pinned version)
#   scripts/build-ollama.sh --print-bin         # where the binary is (or will be)
# Output: <cache>/ollama/<version>/bin/ollama, where <cache> is scripts/cache-dir.sh (outside the
# clone, per user). Concurrent runs wait for each other on a lock.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/cache-dir.sh
. "$here/cache-dir.sh"
VERSION="${OLLAMA_VERSION:-v0.17.4}"
CACHE="$(titan_cache_dir)"
DEST="$CACHE/ollama/$VERSION"
BIN="$DEST/bin/ollama"
if [ "${1:-}" = "--print-bin" ]; then
  echo "$BIN"
  exit 0
fi
LIMIT="${1:-${OLLAMA_BUILD_TIMEOUT:-1200}}"
mkdir -p "$DEST/bin"
exec 9>"$DEST.lock"
if ! flock -n 9; then
  echo "build-ollama: waiting for another build of $VERSION to finish ($DEST.lock)"
  flock 9
fi
if [ -x "$BIN" ] && [ -f "$DEST/COMPLETE" ]; then
  echo "build-ollama: cached $BIN ($VERSION)"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "build-ollama: go is not installed" >&2
  exit 3
fi
# The Go module zip drops every `vendor/` folder, so llama.cpp's vendored headers (nlohmann/json,
# stb_image, miniaudio) are missing from `go install`. Take them from the llama.cpp sources that
# the PyPI sdist of llama-cpp-python vendors (the same sdist scripts/build-llama-cpp.sh uses).
PYVER="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
SDIST="$DEST/sdist"
VENDOR="${LLAMA_CPP_VENDOR_DIR:-$SDIST/llama_cpp_python-$PYVER/vendor/llama.cpp/vendor}"
if [ ! -f "$VENDOR/nlohmann/json.hpp" ]; then
  echo "build-ollama: fetching llama-cpp-python==$PYVER sdist for llama.cpp's vendored headers"
  mkdir -p "$SDIST"
  timeout 300 python3 -m pip download --no-deps --no-binary :all: --quiet -d "$SDIST" \
    "llama-cpp-python==$PYVER"
  tar -xzf "$SDIST/llama_cpp_python-$PYVER.tar.gz" -C "$SDIST"
fi
echo "build-ollama: go install github.com/ollama/ollama@$VERSION (CPU, cgo only; limit ${LIMIT}s)"
# GOBIN puts the binary straight in the cache; -mod=mod tolerates a module with no vendor dir.
if CGO_ENABLED=1 CGO_CPPFLAGS="-I$VENDOR" GOFLAGS=-mod=mod GOBIN="$DEST/bin" timeout "$LIMIT" \
  go install "github.com/ollama/ollama@$VERSION"; then
  touch "$DEST/COMPLETE"
  echo "build-ollama: built $BIN"
else
  status=$?
  echo "build-ollama: build failed or timed out (exit $status)" >&2
  exit "$status"
fi
