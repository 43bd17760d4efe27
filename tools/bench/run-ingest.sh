#!/usr/bin/env bash
# Measure durable ingest: start povtrackd on a fresh data directory (ipc
# endpoints inside it), run povtrack-bench against it, stop the daemon and
# remove the directory.  Builds nothing: build first, with the benchmarks
# (POVTRACK_BENCH), e.g.
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPOVTRACK_TESTS=OFF \
#     -DPOVTRACK_BENCH=ON
#   cmake --build build -j
#
#   tools/bench/run-ingest.sh [BUILD_DIR] [povtrack-bench options]
#
# BUILD_DIR defaults to build/; without bench options it runs
# --publishers 1 --batch 1000 --events 200000.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

build=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
case "$build" in /*) ;; *) build=$root/$build ;; esac
if [ $# -eq 0 ]; then set -- --publishers 1 --batch 1000 --events 200000; fi
bin=$build/bin
for exe in povtrackd povtrack povtrack-bench; do
  if [ ! -x "$bin/$exe" ]; then
    echo "run-ingest.sh: $bin/$exe is missing; build first:" \
      "cmake -S . -B ${build#"$root"/} -DCMAKE_BUILD_TYPE=Release" \
      "-DPOVTRACK_BENCH=ON && cmake --build ${build#"$root"/}" >&2
    exit 2
  fi
done

echo "== machine"
echo "cpus: $(nproc)"
echo "cpu:  $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "/tmp: $(df -T /tmp | awk 'NR == 2 { print $2 " on " $1 " (" $7 ")" }')"

dir=$(mktemp -d /tmp/povtrack-bench.XXXXXX)
ingest=ipc://$dir/ingest.sock
query=ipc://$dir/query.sock
daemon=
cleanup() {
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"
    wait "$daemon" || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$bin/povtrackd" --data-dir "$dir/data" --ingest "$ingest" --query "$query" \
  --alerts "ipc://$dir/alerts.sock" --log-level warn 2>"$dir/povtrackd.log" &
daemon=$!
if ! "$bin/povtrack" ping --wait --query "$query" --timeout 15000 >/dev/null; then
  echo "run-ingest.sh: povtrackd did not answer; its log:" >&2
  cat "$dir/povtrackd.log" >&2
  exit 1
fi

echo "== povtrack-bench --ingest $ingest $*"
status=0
"$bin/povtrack-bench" --ingest "$ingest" "$@" || status=$?

kill -TERM "$daemon"
if ! wait "$daemon"; then
  echo "run-ingest.sh: povtrackd did not stop cleanly; its log:" >&2
  cat "$dir/povtrackd.log" >&2
  [ "$status" -ne 0 ] || status=1
fi
daemon=
exit "$status"
