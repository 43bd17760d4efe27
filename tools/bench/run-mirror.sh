#!/usr/bin/env bash
# Measure the mirror (README, Many provinces): a three-node JetStream
# cluster on 127.0.0.1 (tools/scripts/nats-cluster.sh), then
#
#   1. copy   a log of N events, written by povtrackd without [mirror],
#             copied by povtrack-mirror into a new R3 stream: records/s
#             from povtrackd's start (with [mirror]) until stats says
#             JetStream holds the last record;
#   2. follow a standby ([mirror] standby = yes) on a new data directory
#             reads that stream into its log: records/s from its start
#             until stats says its log holds the last record;
#   3. ingest povtrack-bench against povtrackd without [mirror], with
#             [mirror] strict = no, and with strict = yes (each on a fresh
#             data directory and stream): events/s and ack latency.
#
# Builds nothing: build first, with the benchmarks (POVTRACK_BENCH), e.g.
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo \
#     -DPOVTRACK_TESTS=OFF -DPOVTRACK_BENCH=ON
#   cmake --build build-bench -j2
#
#   tools/bench/run-mirror.sh [BUILD_DIR] [povtrack-bench options]
#
# BUILD_DIR defaults to build/; the bench options default to
# --publishers 4 --batch 100 --window 2 --events 200000 (N, the copied
# log, is the same --events).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

build=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
case "$build" in /*) ;; *) build=$root/$build ;; esac
if [ $# -eq 0 ]; then
  set -- --publishers 4 --batch 100 --window 2 --events 200000
fi
events=200000
args=("$@")
for ((i = 0; i < ${#args[@]} - 1; i++)); do
  [ "${args[$i]}" != --events ] || events=${args[$((i + 1))]}
done
bin=$build/bin
for exe in povtrackd povtrack povtrack-mirror povtrack-bench; do
  if [ ! -x "$bin/$exe" ]; then
    echo "run-mirror.sh: $bin/$exe is missing; build first:" \
      "cmake -S . -B ${build#"$root"/} -DCMAKE_BUILD_TYPE=RelWithDebInfo" \
      "-DPOVTRACK_BENCH=ON && cmake --build ${build#"$root"/}" >&2
    exit 2
  fi
done

echo "== machine"
echo "cpus: $(nproc)"
echo "cpu:  $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "/tmp: $(df -T /tmp | awk 'NR == 2 { print $2 " on " $1 " (" $7 ")" }')"
echo "nats-server $(nats-server --version | awk '{ print $NF }'), 3 nodes, R3"

dir=$(mktemp -d /tmp/povtrack-mirror-bench.XXXXXX)
cluster=$root/tools/scripts/nats-cluster.sh
daemon=
stop_daemon() {
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"
    wait "$daemon" || true
  fi
  daemon=
}
cleanup() {
  stop_daemon
  "$cluster" stop "$dir/nats" || true
  rm -rf "$dir"
}
trap cleanup EXIT

urls=$("$cluster" start "$dir/nats")

# povtrackd on data directory $1, with config file $2 ("" for none).
start_daemon() {
  local data=$1 config=$2
  mkdir -p "$data"
  "$bin/povtrackd" ${config:+-c "$config"} --data-dir "$data" \
    --ingest "ipc://$data/ingest.sock" --query "ipc://$data/query.sock" \
    --alerts "ipc://$data/alerts.sock" --log-level warn \
    2>>"$dir/povtrackd.log" &
  daemon=$!
  if ! "$bin/povtrack" ping --wait --query "ipc://$data/query.sock" \
    --timeout 15000 >/dev/null; then
    echo "run-mirror.sh: povtrackd did not answer; its log:" >&2
    cat "$dir/povtrackd.log" >&2
    exit 1
  fi
}

# A configuration with [mirror] for province $1 (a stream of its own:
# two streams cannot share a subject) and extra lines.
mirror_config() {
  local province=$1 extra=$2 file=$dir/$1.ini
  printf '[mirror]\nservers = %s\nprovince = %s\n%s\n' \
    "$urls" "$province" "$extra" >"$file"
  echo "$file"
}

# stats of the daemon on $1: "<last_seq> <mirror acked_seq>".
progress() {
  "$bin/povtrack" stats --json --query "ipc://$1/query.sock" |
    /usr/bin/python3 -c 'import json, sys
s = json.load(sys.stdin)
print(s["last_seq"], s.get("mirror", {}).get("acked_seq", 0))'
}

bench() { # DATA_DIR [povtrack-bench options]
  local data=$1
  shift
  "$bin/povtrack-bench" --ingest "ipc://$data/ingest.sock" "$@"
}

echo
echo "== 1. copy: $events records into a new R3 stream"
start_daemon "$dir/copy" ""
bench "$dir/copy" --publishers 4 --batch 1000 --window 2 \
  --events "$events" >/dev/null
stop_daemon
t0=$(date +%s.%N)
start_daemon "$dir/copy" "$(mirror_config 60 "")"
while :; do
  read -r last acked <<<"$(progress "$dir/copy")"
  [ "$acked" -lt "$last" ] || break
  sleep 0.1 # the resolution of this measurement
done
t1=$(date +%s.%N)
stop_daemon
/usr/bin/python3 -c "import sys
n, t = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2])
print(f'copied {n} records in {t:.2f} s: {n / t:.0f} records/s')" \
  "$last" "$t0" "$t1"

echo
echo "== 2. follow: a standby reads those $last records into its log"
t0=$(date +%s.%N)
start_daemon "$dir/standby" "$(mirror_config 60 "standby = yes")"
while :; do
  read -r followed _ <<<"$(progress "$dir/standby")"
  [ "$followed" -lt "$last" ] || break
  sleep 0.1 # the resolution of this measurement
done
t1=$(date +%s.%N)
stop_daemon
/usr/bin/python3 -c "import sys
n, t = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2])
print(f'followed {n} records in {t:.2f} s: {n / t:.0f} records/s')" \
  "$followed" "$t0" "$t1"

province=60
for mode in none no yes; do
  echo
  case $mode in
  none)
    echo "== 3. ingest without [mirror]: povtrack-bench $*"
    start_daemon "$dir/none" ""
    ;;
  *)
    echo "== 3. ingest with [mirror] strict = $mode: povtrack-bench $*"
    province=$((province + 1))
    start_daemon "$dir/$mode" "$(mirror_config $province "strict = $mode")"
    ;;
  esac
  bench "$dir/$mode" "$@"
  stop_daemon
done
