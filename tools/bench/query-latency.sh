#!/usr/bin/env bash
# Query latency against the real daemon: a fresh povtrackd (all six
# plugins, ipc endpoints in a temporary directory) gets one province with
# 1,000,000 households, one household.status each (povtrack-sample
# --national --types status, streamed into povtrack send), and once every
# plugin has applied them, povtrack-query-bench times poverty queries for
# the province, one of its districts and one of its communes over the
# query socket, one request in flight.  Then the same province query while
# another province's households are being ingested and applied, which is
# when a query has to wait for the apply transaction in progress.  Last,
# queries of that province while its review.closed events (each district,
# then the province: every household visited twice) are applied, the
# slowest records of a log, held back until then.
#
#   tools/bench/query-latency.sh [BUILD_DIR] [--households N]
#                                [--requests N] [--review-only] [--keep]
#
# --review-only runs the last part alone (province 01 published without
# its reviews, then the reviews while it is queried).
#
# BUILD_DIR defaults to build/ (a Release build with -DPOVTRACK_BENCH=ON
# -DPOVTRACK_SAMPLE=ON).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

build=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
case "$build" in /*) ;; *) build=$root/$build ;; esac
households=1000000 requests=100000 keep=0 review_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --households) households=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --review-only) review_only=1; shift ;;
    *) echo "query-latency.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
bin=$build/bin
units=${POVTRACK_UNITS:-$root/../shared/data/units-vn-2025-03-01.csv}
[ -f "$units" ] || units=$root/../../shared/data/units-vn-2025-03-01.csv # a worktree
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

publish() { # province, households[, grep -v or grep, pattern]
  "$bin/povtrack-sample" --national --units "$units" --province "$1" \
    --households "$2" --types status --year 2024 --now 1790000000 \
    2>/dev/null | { if [ $# -gt 2 ]; then grep "$3" "$4"; else cat; fi; } |
    "$bin/povtrack" send --ingest "$I" --batch 10000 --timeout 60000
}
reviews='"type":"review.closed"'
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

if [ "$review_only" = 0 ]; then
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
publish 01 "$households" -v "$reviews" >/dev/null &
bg=$!
sleep 2
"$bin/povtrack-query-bench" --query "$Q" --units 60 --requests "$((requests / 5))" --timeout 30000
wait "$bg"
bg=
else
  publish 01 "$households" -v "$reviews" >/dev/null
fi
until caught_up; do sleep 0.5; done

# Queries in runs of 2,000 for as long as the reviews are being applied;
# the worst run's p99 and the longest wait of all.
echo "== while province 01's review.closed events are applied, load $(cut -d' ' -f1-3 /proc/loadavg)"
(
  sleep 1
  t0=$(date +%s.%N)
  publish 01 "$households" -e "$reviews" >/dev/null
  until caught_up; do sleep 0.2; done
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >"$dir/review.s"
) &
bg=$!
: >"$dir/review.jsonl"
while kill -0 "$bg" 2>/dev/null; do
  "$bin/povtrack-query-bench" --query "$Q" --units 01 --requests 2000 \
    --warmup 0 --timeout 30000 --json >>"$dir/review.jsonl"
done
wait "$bg"
bg=
awk -v s="$(cat "$dir/review.s")" '
  { match($0, /"requests":[0-9]+/); n += substr($0, RSTART + 11, RLENGTH - 11)
    match($0, /"p99_us":[0-9.]+/); p = substr($0, RSTART + 9, RLENGTH - 9) + 0
    match($0, /"max_us":[0-9.]+/); m = substr($0, RSTART + 9, RLENGTH - 9) + 0
    if (p > p99) p99 = p; if (m > max) max = m }
  END { printf "poverty 01 year 2024 during its reviews (applied in %s s): %d queries, worst p99 of a run of 2,000 %.1f us, max %.1f us\n", s, n, p99, max }' \
  "$dir/review.jsonl"
