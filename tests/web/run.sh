#!/bin/sh
# ctest's wrapper for the dashboard's browser tests (label integration):
#   run.sh BIN_DIR SCREENSHOT_DIR
# Runs dashboard.test.mjs with the system's node against the real
# povtrackd and povtrack-gw of BIN_DIR, in Debian's /usr/bin/chromium
# driven by playwright-core (package-lock.json pins it; npm ci installs it
# when node_modules is missing, and never a browser).  Without chromium the
# test is skipped (exit 77) with the command that installs it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=$1
shots=$2
if [ ! -x /usr/bin/chromium ]; then
  echo "SKIPPED: the browser tests need Debian's chromium at /usr/bin/chromium:"
  echo "  sudo apt-get install chromium   (tools/scripts/deps.sh installs it)"
  exit 77
fi
node=/usr/bin/node
if [ ! -x "$node" ] || ! "$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "tests/web: needs Node.js 20 or later at $node (playwright-core requires it)" >&2
  exit 1
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "tests/web: node_modules missing; npm ci (playwright-core only, no browser)"
  (cd "$here" && npm ci --no-audit --no-fund) || {
    echo "tests/web: npm ci failed: run it in tests/web with access to the npm registry" >&2
    exit 1
  }
fi
rm -rf "$shots"
mkdir -p "$shots"
POVTRACK_BIN_DIR=$bin POVTRACK_SHOTS_DIR=$shots \
  exec "$node" --test --test-concurrency=1 --test-reporter=spec "$here/dashboard.test.mjs"
