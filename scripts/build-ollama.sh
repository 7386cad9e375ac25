#!/usr/bin/env bash
# Builds a CPU-only Ollama from its Go module into .cache/ollama/bin/ollama (cached; time-boxed).
# Usage: scripts/build-ollama.sh [timeout-seconds]   (OLLAMA_VERSION overrides the pinned version)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${OLLAMA_VERSION:-v0.17.4}"
LIMIT="${1:-${OLLAMA_BUILD_TIMEOUT:-1200}}"
DEST="$PWD/.cache/ollama"
BIN="$DEST/bin/ollama"
if [ -x "$BIN" ] && [ "$(cat "$DEST/VERSION" 2>/dev/null)" = "$VERSION" ]; then
  echo "build-ollama: cached $BIN ($VERSION)"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "build-ollama: go is not installed; skipping" >&2
  exit 3
fi
mkdir -p "$DEST/bin"
# The Go module zip drops every `vendor/` folder, so llama.cpp's vendored headers (nlohmann/json,
# stb_image, miniaudio) are missing from `go install`. Take them from the llama.cpp sources that
# the PyPI sdist of llama-cpp-python vendors (the same sdist scripts/build-llama-cpp.sh uses).
PYVER="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
SDIST="$PWD/.cache/llama.cpp"
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
  echo "$VERSION" > "$DEST/VERSION"
  echo "build-ollama: built $BIN"
else
  status=$?
  echo "build-ollama: build failed or timed out (exit $status)" >&2
  exit "$status"
fi
