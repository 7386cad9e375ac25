#!/usr/bin/env bash
# Makes this machine ready for the container test (test/docker/): a running Docker daemon, Docker
# Compose v2 and the Debian base image with Node.
#   scripts/ensure-docker.sh               # installs and starts what is missing
#   scripts/ensure-docker.sh --print-bin   # the compose binary the test runs
# dockerd comes from Debian's docker.io (installed with apt-get when missing; needs root) and is
# started here when it is not running, in the background, with its log in /tmp/titan-dockerd.log.
# That daemon sets up no iptables rules, so containers it starts have no route off this machine;
# published ports still reach them from here. The CLI is Debian's /usr/bin/docker (DOCKER overrides).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
DOCKER="${DOCKER:-/usr/bin/docker}"
if [ "${1:-}" = "--print-bin" ]; then
  exec bash "$here/build-compose.sh" --print-bin
fi
export DEBIAN_FRONTEND=noninteractive

if [ ! -x /usr/sbin/dockerd ] || [ ! -x "$DOCKER" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "ensure-docker: dockerd is missing; installing Debian's docker.io needs root and apt-get" >&2
    exit 3
  fi
  exec 9>/tmp/titan-ensure-docker.lock
  flock 9
  if [ ! -x /usr/sbin/dockerd ] || [ ! -x "$DOCKER" ]; then
    echo "ensure-docker: apt-get install docker.io"
    apt-get update -q || echo "ensure-docker: apt-get update failed; trying the lists already here"
    apt-get install -y -q --no-install-recommends docker.io
  fi
  exec 9>&-
fi

if ! "$DOCKER" info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-docker: no Docker daemon answers, and starting one needs root" >&2
    exit 3
  fi
  echo "ensure-docker: starting dockerd (log: /tmp/titan-dockerd.log)"
  setsid nohup /usr/sbin/dockerd --iptables=false >>/tmp/titan-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 60); do
    "$DOCKER" info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! "$DOCKER" info >/dev/null 2>&1; then
    echo "ensure-docker: dockerd did not come up; its last lines:" >&2
    tail -n 20 /tmp/titan-dockerd.log >&2
    exit 4
  fi
fi
echo "ensure-docker: $("$DOCKER" version --format 'Docker {{.Server.Version}}')"
bash "$here/build-compose.sh"
bash "$here/docker-base.sh"
