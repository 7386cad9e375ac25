#!/usr/bin/env bash
# The per-user build cache, outside any clone, so a machine builds llama.cpp and Ollama once per
# pinned version however many clones or CI runs it hosts. TITAN_CACHE_DIR overrides it.
#   scripts/cache-dir.sh          # prints the folder (created if missing)
# Sourced by the build scripts, which key their folders by version and lock them with flock.
titan_cache_dir() {
  local dir="${TITAN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/titancompute}"
  mkdir -p "$dir"
  (cd "$dir" && pwd -P)
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then titan_cache_dir; fi
