#!/usr/bin/env bash
# Makes sure a headless Chromium is on this machine for the browser tests (test/browser/).
#   scripts/ensure-chromium.sh               # installs Debian's `chromium` if it is missing
#   scripts/ensure-chromium.sh --print-bin   # where the binary is (CHROMIUM_BIN overrides)
# playwright-core (pinned in package.json) drives it; Playwright's own browser download needs a CDN
# this project cannot reach, so the browser comes from the distribution's packages instead. Installing
# needs root (CI runs as root); elsewhere install `chromium` yourself or point CHROMIUM_BIN at one.
set -euo pipefail
BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
if [ "${1:-}" = "--print-bin" ]; then
  echo "$BIN"
  exit 0
fi
if [ -x "$BIN" ]; then
  echo "ensure-chromium: $("$BIN" --version 2>/dev/null || echo "$BIN")"
  exit 0
fi
if [ -n "${CHROMIUM_BIN:-}" ]; then
  echo "ensure-chromium: CHROMIUM_BIN=$CHROMIUM_BIN is not an executable" >&2
  exit 3
fi
if ! command -v apt-get >/dev/null; then
  echo "ensure-chromium: no apt-get here; install Chromium and set CHROMIUM_BIN" >&2
  exit 3
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-chromium: installing Debian's chromium needs root (or set CHROMIUM_BIN)" >&2
  exit 3
fi
export DEBIAN_FRONTEND=noninteractive
# Serialised: two test runs on one machine must not run apt at once.
exec 9>/tmp/titan-ensure-chromium.lock
flock 9
if [ ! -x "$BIN" ]; then
  apt-get update -q || echo "ensure-chromium: apt-get update failed; trying the lists already here"
  apt-get install -y -q --no-install-recommends chromium fonts-liberation
fi
echo "ensure-chromium: $("$BIN" --version)"
