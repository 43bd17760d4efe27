#!/usr/bin/env bash
# The SDK check: what someone outside the tree does with an installed
# povtrack, end to end.
#
#  1. install the release build (build/, built here if needed) into a
#     temporary prefix (cmake --install --prefix);
#  2. copy examples/plugin-relocation-count and examples/client-publish out
#     of the tree and build each with its own Makefile, finding povtrack
#     only through pkg-config in that prefix (PKG_CONFIG_PATH; the .pc
#     files must point into the prefix, never into the source tree), and
#     build their sources once more with CMake through find_package(povtrack)
#     (povtrack::plugin, povtrack::client);
#  3. install the example plugin into the installed plugin directory
#     (pkg-config --variable=plugindir povtrack-plugin) and start the
#     INSTALLED povtrackd on ipc:// endpoints in the temporary directory,
#     the six built-in plugins and relocation_count loaded, threshold 2;
#  4. publish units and one relocation with the installed povtrack: the
#     plugin answers {"relocations": 1} for the district and raises no
#     alert; a second relocation: {"relocations": 2} and the alert
#     relocation_count.above_threshold;
#  5. publish a donation with the example client: it must succeed and print
#     the unit's fund total, which the installed povtrack confirms;
#  6. stop the daemon (exit status 0) and remove the temporary directory.
#
#   tools/scripts/sdk-check.sh [BUILD_DIR]      (default build/)
#
# Exit status 0 when every check passed, 1 naming the step that failed
# (with the daemon's log when it ran).  tools/scripts/test.sh runs it after
# ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

build=${1:-build}
plugin_src=examples/plugin-relocation-count
client_src=examples/client-publish

tmp=$(mktemp -d "${TMPDIR:-/tmp}/povtrack-sdk.XXXXXX")
prefix=$tmp/prefix
daemon= # the pid of the povtrackd started here, while it runs
stop_daemon() { # SIGTERM and wait; returns the daemon's exit status
  local pid=$daemon
  daemon=
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid"
}
trap '[ -z "$daemon" ] || stop_daemon || true; rm -rf "$tmp"' EXIT

fail() {
  echo "sdk-check.sh: FAILED: $*" >&2
  if [ -f "$tmp/povtrackd.log" ]; then
    echo "sdk-check.sh: the end of povtrackd's log:" >&2
    tail -n 30 "$tmp/povtrackd.log" >&2
  fi
  exit 1
}

# ---- 1. install ----
echo "== sdk-check: install $build/ into $prefix"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
    fail "cannot configure $build/"
fi
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null ||
  fail "cannot build $build/"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
  fail "cmake --install $build --prefix $prefix (log: $tmp/install.log)"
cache_dir() { # the install directory variable $1 of the build, relative
  local d
  d=$(sed -n "s/^CMAKE_INSTALL_$1:PATH=//p" "$build/CMakeCache.txt")
  case "$d" in
    '') fail "$build/CMakeCache.txt has no CMAKE_INSTALL_$1" ;;
    /*) fail "CMAKE_INSTALL_$1 is absolute ($d): it does not follow --prefix" ;;
  esac
  echo "$d"
}
bindir=$prefix/$(cache_dir BINDIR)
libdir=$prefix/$(cache_dir LIBDIR)
for f in "$bindir/povtrackd" "$bindir/povtrack"; do
  [ -x "$f" ] || fail "$f was not installed"
done

# ---- 2. build the examples against the prefix only ----
# The environment of someone who has only the installed povtrack: the
# prefix's pkg-config files beside the system's, nothing else.
export PKG_CONFIG_PATH=$libdir/pkgconfig
unset CPATH C_INCLUDE_PATH LIBRARY_PATH PKG_CONFIG_SYSROOT_DIR
for pc in povtrack-plugin povtrack-client; do
  pkg-config --exists "$pc" ||
    fail "pkg-config finds no $pc.pc in $PKG_CONFIG_PATH"
  flags=$(pkg-config --cflags --libs "$pc")
  case "$flags" in
    *"$root"*) fail "$pc.pc points into the source tree: $flags" ;;
  esac
  inc=$(pkg-config --variable=includedir "$pc")
  [ "$(cd "$inc" 2>/dev/null && pwd -P)" = "$(cd "$prefix" && pwd -P)/include" ] ||
    fail "$pc.pc: includedir $inc is not the prefix's ($prefix/include)"
done
plugindir=$(pkg-config --variable=plugindir povtrack-plugin)
if [ ! -f "$plugindir/poverty.so" ]; then
  fail "povtrack-plugin.pc: plugindir $plugindir holds no installed plugin"
fi

mkdir "$tmp/src"
cp -R "$plugin_src" "$tmp/src/plugin"
cp -R "$client_src" "$tmp/src/client"
echo "== sdk-check: build the example plugin and client (make, pkg-config)"
make -C "$tmp/src/plugin" >"$tmp/make-plugin.log" 2>&1 ||
  { cat "$tmp/make-plugin.log" >&2; fail "make in $plugin_src"; }
make -C "$tmp/src/client" >"$tmp/make-client.log" 2>&1 ||
  { cat "$tmp/make-client.log" >&2; fail "make in $client_src"; }
so=$tmp/src/plugin/relocation_count.so
client=$tmp/src/client/client-publish
[ -f "$so" ] || fail "$plugin_src/Makefile built no relocation_count.so"
[ -x "$client" ] || fail "$client_src/Makefile built no client-publish"

echo "== sdk-check: build the same sources with CMake (find_package)"
mkdir "$tmp/cmake"
cat >"$tmp/cmake/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(povtrack_sdk_check C)
find_package(povtrack REQUIRED)
file(GLOB plugin_sources "$tmp/src/plugin/*.c")
file(GLOB client_sources "$tmp/src/client/*.c")
add_library(relocation_count MODULE \${plugin_sources})
target_link_libraries(relocation_count PRIVATE povtrack::plugin)
add_executable(client-publish \${client_sources})
target_link_libraries(client-publish PRIVATE povtrack::client)
EOF
(cmake -S "$tmp/cmake" -B "$tmp/cmake/build" -DCMAKE_PREFIX_PATH="$prefix" &&
  cmake --build "$tmp/cmake/build") >"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log" >&2; fail "CMake build with find_package(povtrack)"; }

# ---- 3. the installed daemon with the example plugin ----
install -m 0755 "$so" "$plugindir/relocation_count.so"
I=ipc://$tmp/ingest.sock
Q=ipc://$tmp/query.sock
A=ipc://$tmp/alerts.sock
cat >"$tmp/povtrackd.ini" <<EOF
[daemon]
data_dir = $tmp/data
ingest = $I
query = $Q
alerts = $A
plugins = poverty fund standard relocation credit deadlines relocation_count

[plugin.relocation_count]
threshold = 2
EOF
echo "== sdk-check: start the installed povtrackd (log: $tmp/povtrackd.log)"
"$bindir/povtrackd" --config "$tmp/povtrackd.ini" 2>"$tmp/povtrackd.log" &
daemon=$!
pt() { "$bindir/povtrack" --ingest "$I" --query "$Q" --alerts "$A" "$@"; }
pt ping --wait --timeout 15000 >/dev/null ||
  fail "the installed povtrackd did not answer"

# ---- 4. the example plugin: a query answer and an alert ----
# JSON value at a dotted path of the JSON on stdin ("" when absent or when
# stdin is not JSON: the command before has said why).
json_at() {
  /usr/bin/python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)
except ValueError:
    v = None
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1"
}
last_seq() { pt stats --json | json_at last_seq; }
relocations() { # the plugin's count for district 593 in 2024, once applied
  pt query --json --min-seq "$(last_seq)" relocation_count unit=593 \
    year=2024 | json_at result.relocations
}
threshold_alerts() { # how many stored alerts have the plugin's code
  local out
  out=$(pt alerts --since 0 --json) || fail "povtrack alerts"
  grep -c 'relocation_count\.above_threshold' <<<"$out" || true
}
at=1717200000 # 2024-06-01
relocation() { # id
  echo "{\"v\":1,\"id\":\"$1\",\"type\":\"relocation.completed\",\"at\":$at,\"unit\":\"22915\",\"household\":\"$1-hh\",\"data\":{\"from\":\"22918\",\"reason\":\"landslide\"}}"
}
{
  echo '{"v":1,"id":"sdk-u-60","type":"unit.defined","at":1704042000,"unit":"60","data":{"name":"Binh Thuan","parent":null,"level":"province"}}'
  echo '{"v":1,"id":"sdk-u-593","type":"unit.defined","at":1704042000,"unit":"593","data":{"name":"Phan Thiet","parent":"60","level":"district"}}'
  echo '{"v":1,"id":"sdk-u-22915","type":"unit.defined","at":1704042000,"unit":"22915","data":{"name":"Phu Thuy","parent":"593","level":"commune"}}'
  echo '{"v":1,"id":"sdk-u-22918","type":"unit.defined","at":1704042000,"unit":"22918","data":{"name":"Phu Hai","parent":"593","level":"commune"}}'
  relocation sdk-reloc-1
} >"$tmp/first.jsonl"
pt send "$tmp/first.jsonl" >"$tmp/send.log" 2>&1 ||
  { cat "$tmp/send.log" >&2; fail "povtrack send of the units and a relocation"; }
n=$(relocations || true)
[ "$n" = 1 ] || fail "relocation_count answered relocations=\"$n\" after one relocation (wanted 1)"
[ "$(threshold_alerts)" = 0 ] ||
  fail "relocation_count.above_threshold raised below the threshold (1 of 2)"
relocation sdk-reloc-2 >"$tmp/second.jsonl"
pt send "$tmp/second.jsonl" >"$tmp/send.log" 2>&1 ||
  { cat "$tmp/send.log" >&2; fail "povtrack send of the second relocation"; }
n=$(relocations || true)
[ "$n" = 2 ] || fail "relocation_count answered relocations=\"$n\" after two relocations (wanted 2)"
[ "$(threshold_alerts)" -ge 1 ] ||
  fail "no relocation_count.above_threshold alert at the threshold (2 of 2)"
echo "   relocation_count: 2 relocations in 593 in 2024, alert raised at the threshold"

# ---- 5. the example client ----
# Linked against the prefix's libpovtrack-client: found where an operator
# who installs into a non-system prefix points the loader.
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
  "$client" --ingest "$I" --query "$Q" 593 1500000 "sdk-check donor" \
  >"$tmp/client.out" 2>&1 ||
  { cat "$tmp/client.out" >&2; fail "client-publish exited non-zero"; }
tr -d ',. ' <"$tmp/client.out" | grep -q 1500000 ||
  { cat "$tmp/client.out" >&2; fail "client-publish did not print the fund total 1,500,000"; }
received=$(pt query --json --min-seq "$(last_seq)" fund unit=593 |
  json_at result.received || true)
[ "$received" = 1500000 ] ||
  fail "fund received $received for 593 after the client's donation (wanted 1500000)"
echo "   client-publish: donation acknowledged, fund total 1,500,000 VND"

# ---- 6. stop ----
status=0
stop_daemon || status=$?
[ "$status" = 0 ] || fail "povtrackd exited with status $status on SIGTERM"
echo "== sdk-check: passed"
