#!/usr/bin/env bash
# A private virtualenv with the Python `openai` client, for the test that drives a cluster with it
# (test/e2e/python-openai.test.ts). Kept outside the clone, keyed by the pinned version:
#   scripts/python-openai.sh     # prints the venv's python (installs it the first time)
# Output: <cache>/python-openai/<version>/bin/python, where <cache> is scripts/cache-dir.sh.
# Concurrent runs wait for each other on a lock; a failed install is removed, so the next run
# starts clean, and pip's own error is the last thing on stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/cache-dir.sh
. "$here/cache-dir.sh"
version="${PYTHON_OPENAI_VERSION:-2.54.0}"
dest="$(titan_cache_dir)/python-openai/$version"

mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
if [ ! -f "$dest/.installed" ]; then
  rm -rf "$dest"
  # Debian's python3 makes virtualenvs only with python3-venv (ensurepip); CI runs as root.
  if ! python3 -c 'import ensurepip' 2>/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[python-openai] apt-get install python3-venv" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv >&2; }
  fi
  echo "[python-openai] installing openai==$version into $dest" >&2
  if ! { python3 -m venv "$dest" && "$dest/bin/python" -m pip install --quiet --disable-pip-version-check "openai==$version"; } >&2; then
    rm -rf "$dest"
    exit 1
  fi
  touch "$dest/.installed"
fi
echo "$dest/bin/python"
