#!/usr/bin/env bash
# Query latency against the real daemon: a fresh povtrackd (all six
# plugins, ipc endpoints in a temporary directory) gets one province with
# 1,000,000 households, one household.status each (povtrack-sample
# --national --types status, streamed into povtrack send), and once every
# plugin has applied them, povtrack-query-bench times poverty queries for
# the province, one of its districts and one of its communes over the
# query socket, one request in flight.  Then the same province query while
# another province's households are being ingested and applied, which is
# when a query has to wait for the apply transaction in progress.
#
#   tools/bench/query-latency.sh [BUILD_DIR] [--households N]
#                                [--requests N] [--keep]
#
# BUILD_DIR defaults to build/ (a Release build with -DPOVTRACK_BENCH=ON
# -DPOVTRACK_SAMPLE=ON).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

build=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
case "$build" in /*) ;; *) build=$root/$build ;; esac
households=1000000 requests=100000 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --households) households=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "query-latency.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
bin=$build/bin
units=$root/../shared/data/units-vn-2025-03-01.csv
for exe in povtrackd povtrack povtrack-sample povtrack-query-bench; do
  if [ ! -x "$bin/$exe" ]; then
    echo "query-latency.sh: $bin/$exe is missing; build first:" \
      "cmake -S . -B ${build#"$root"/} -DCMAKE_BUILD_TYPE=Release" \
      "-DPOVTRACK_BENCH=ON -DPOVTRACK_SAMPLE=ON && cmake --build ${build#"$root"/}" >&2
    exit 2
  fi
done

dir=$(mktemp -d /tmp/perf-query.XXXXXX)
Q=ipc://$dir/query.sock
I=ipc://$dir/ingest.sock
daemon= bg=
cleanup() {
  if [ -n "$bg" ]; then kill "$bg" 2>/dev/null || true; fi
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"
    wait "$daemon" || true
  fi
  if [ "$keep" = 0 ]; then rm -rf "$dir"; else echo "kept $dir"; fi
}
trap cleanup EXIT

publish() { # province, households
  "$bin/povtrack-sample" --national --units "$units" --province "$1" \
    --households "$2" --types status --year 2024 --now 1790000000 \
    2>/dev/null |
    "$bin/povtrack" send --ingest "$I" --batch 10000 --timeout 60000
}
caught_up() {
  "$bin/povtrack" stats --json --query "$Q" |
    awk '{ match($0, /"last_seq":[0-9]+/); last = substr($0, RSTART + 11, RLENGTH - 11) + 0
           ok = 1; s = $0
           while (match(s, /"applied_seq":[0-9]+/)) {
             if (substr(s, RSTART + 14, RLENGTH - 14) + 0 < last) ok = 0
             s = substr(s, RSTART + RLENGTH) }
           exit !ok }'
}

"$bin/povtrackd" --data-dir "$dir/data" --ingest "$I" --query "$Q" \
  --alerts "ipc://$dir/alerts.sock" --log-level warn 2>"$dir/povtrackd.log" &
daemon=$!
"$bin/povtrack" ping --wait --query "$Q" --timeout 15000 >/dev/null

echo "== load $(cut -d' ' -f1-3 /proc/loadavg); publishing province 60 with $households households"
t0=$(date +%s.%N)
publish 60 "$households" | tail -n1
until caught_up; do sleep 0.5; done
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "published and applied in %.1f s\n", b - a }'
"$bin/povtrack" query --query "$Q" poverty unit=60 year=2024 | head -n4

# The units file has CRLF line ends.
district=$(awk -F, '{ sub(/\r$/, "") } $4 == "60" && $NF == "district" { print $1; exit }' "$units")
commune=$(awk -F, -v d="$district" '{ sub(/\r$/, "") } $4 == d && $NF == "commune" { print $1; exit }' "$units")
echo "== idle daemon, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/povtrack-query-bench" --query "$Q" --units 60 --requests "$requests"
"$bin/povtrack-query-bench" --query "$Q" --units "$district" --requests "$((requests / 5))"
"$bin/povtrack-query-bench" --query "$Q" --units "$commune" --requests "$((requests / 5))"
"$bin/povtrack-query-bench" --query "$Q" --plugin fund --units 60 --requests "$((requests / 5))"

echo "== while province 01 ($households households) is ingested and applied, load $(cut -d' ' -f1-3 /proc/loadavg)"
publish 01 "$households" >/dev/null &
bg=$!
sleep 2
"$bin/povtrack-query-bench" --query "$Q" --units 60 --requests "$((requests / 5))" --timeout 30000
wait "$bg"
bg=
