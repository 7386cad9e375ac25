#!/bin/sh
# The workspace packages as `npm pack` makes them, inside an image build (agent/Dockerfile and
# control-plane/Dockerfile, stage `packages`, in /src):
#   tools               esbuild and tsx at the lockfile's versions, into /tools (/src/node_modules)
#   pack <workspace>…   compiled by scripts/build-packages.ts without type declarations (an image
#                       publishes none), then packed into /packages
set -eu
case "${1:-}" in
  tools)
    pin() { node -p "require('/src/package-lock.json').packages['node_modules/$1'].version"; }
    mkdir -p /tools
    echo '{"private":true}' >/tools/package.json
    (cd /tools && npm install --no-audit --no-fund --ignore-scripts \
      "esbuild@$(pin esbuild)" "tsx@$(pin tsx)")
    ln -sfn /tools/node_modules /src/node_modules
    ;;
  pack)
    shift
    cd /src
    node --import tsx scripts/build-packages.ts "$@" --no-types
    mkdir -p /packages
    for p in "$@"; do
      (cd "$p" && npm pack --ignore-scripts --silent --pack-destination /packages)
    done
    ;;
  *)
    echo "usage: docker-packages.sh tools | pack <workspace>..." >&2
    exit 2
    ;;
esac
