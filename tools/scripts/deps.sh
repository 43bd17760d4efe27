#!/usr/bin/env bash
# Install the Debian 12 packages povtrack needs, only those missing.
# Sourced by demo.sh and test.sh; safe to run on its own.
set -euo pipefail

# clang builds the fuzz targets (tools/scripts/fuzz.sh); libFuzzer and the
# sanitizer runtimes are in libclang-rt-dev, which clang only recommends.
# python3-zmq and python3-msgpack: the Python client (tools/python) and its
# tests, which run with /usr/bin/python3.
# libnats-dev (nats.c) builds povtrack-mirror; nats-server runs the
# three-node JetStream cluster of its tests (nats-cluster.sh).
# scdoc builds the man pages, which man-db and groff-base check (test
# man_pages).  debhelper, lintian and systemd (systemd-analyze,
# systemd-sysusers) build and check the Debian packages (deb-check.sh).
# libmicrohttpd-dev and libsodium-dev build the web gateway povtrack-gw;
# libcurl4-openssl-dev, curl and python3-prometheus-client are for its test
# (libcurl drives it, the Prometheus parser reads /metrics) and the demo.
# libjs-chart.js: Chart.js, which the build copies into the dashboard
# (tools/gw/www/vendor/).  chromium and nodejs (20 or later, with npm)
# run the dashboard's browser tests (tests/web: playwright-core drives
# /usr/bin/chromium and never downloads a browser; npm ci installs it).
# fonts-liberation: the dashboard's Arial, which chromium only recommends;
# the browser tests measure text in it (no badge overflows its card).
POVTRACK_PACKAGES=(
  build-essential cmake pkg-config
  libzmq3-dev libmsgpack-dev liblmdb-dev libjansson-dev libinih-dev libcsv-dev
  libsystemd-dev scdoc man-db groff-base
  libcmocka-dev clang-format lmdb-utils strace clang libclang-rt-dev
  python3-zmq python3-msgpack
  libmicrohttpd-dev libsodium-dev libcurl4-openssl-dev curl
  python3-prometheus-client libjs-chart.js chromium fonts-liberation nodejs
  libnats-dev nats-server
  debhelper dpkg-dev lintian systemd
)

missing=()
for p in "${POVTRACK_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "povtrack: installing missing packages: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's nodejs (18) comes without npm; a machine with Node.js from
# elsewhere has its own npm, which Debian's package would conflict with.
if ! command -v npm >/dev/null 2>&1; then
  echo "povtrack: installing npm (for the browser tests' playwright-core)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends npm >/dev/null
fi
