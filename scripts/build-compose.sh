#!/usr/bin/env bash
# Builds Docker Compose v2 (the `docker compose` CLI plugin) from its Go module, cached per version.
#   scripts/build-compose.sh [timeout-seconds]   (COMPOSE_VERSION overrides the pinned version)
#   scripts/build-compose.sh --print-bin         # where the binary is (or will be)
# Output: <cache>/compose/<version>/docker-compose, where <cache> is scripts/cache-dir.sh (outside
# the clone, per user). Debian bookworm packages no compose v2 plugin, only the Python compose v1
# (`docker-compose` 1.29), which real users no longer have; the container test runs compose.yaml
# with the same v2 that `docker compose` is. Concurrent runs wait for each other on a lock.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/cache-dir.sh
. "$here/cache-dir.sh"
VERSION="${COMPOSE_VERSION:-v2.40.3}"
CACHE="$(titan_cache_dir)"
DEST="$CACHE/compose/$VERSION"
BIN="$DEST/docker-compose"
if [ "${1:-}" = "--print-bin" ]; then
  echo "$BIN"
  exit 0
fi
LIMIT="${1:-${COMPOSE_BUILD_TIMEOUT:-1800}}"
mkdir -p "$DEST"
exec 9>"$DEST.lock"
if ! flock -n 9; then
  echo "build-compose: waiting for another build of $VERSION to finish ($DEST.lock)"
  flock 9
fi
if [ -x "$BIN" ] && [ -f "$DEST/COMPLETE" ]; then
  echo "build-compose: cached $BIN ($VERSION)"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "build-compose: go is not installed" >&2
  exit 3
fi
echo "build-compose: go build github.com/docker/compose/v2/cmd@$VERSION (limit ${LIMIT}s)"
# The module's main package is cmd/; build it under the plugin's own name. A throwaway module
# pins exactly that version (with its own go.sum from the checksum database).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init titancompute.local/compose-build >/dev/null 2>&1
if timeout "$LIMIT" bash -c "
  go get 'github.com/docker/compose/v2/cmd@$VERSION' &&
  CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X github.com/docker/compose/v2/internal.Version=$VERSION' \
    -o '$BIN' github.com/docker/compose/v2/cmd
"; then
  touch "$DEST/COMPLETE"
  echo "build-compose: built $BIN"
else
  status=$?
  echo "build-compose: build failed or timed out (exit $status)" >&2
  exit "$status"
fi
