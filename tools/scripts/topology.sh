#!/usr/bin/env bash
# topology.sh - the whole many-provinces topology on one machine (README,
# Many provinces): a three-node NATS JetStream cluster, two provinces
# (each a povtrackd with [mirror]), a standby of the first province, and
# the national daemon ([national]) reading both provinces' streams.
#
#   topology.sh start [DIR] [--build B] [--provinces 60,68] [--scale F]
#                     [--units FILE] [--national-sample [--households N]]
#       starts everything in DIR (default /tmp/povtrack-topology), sends
#       each province its sample data (povtrack-sample --province P
#       --scale F --from-year 2024 --to-year 2024, default F 0.02; with
#       --national-sample the scale data set instead, povtrack-sample
#       --national --province P [--households N]: every household of the
#       province, a status and an assessment each), waits
#       (polling `povtrack stats`) until the national daemon's cursor of
#       every province is its stream's last record and its plugins have
#       applied its log, then prints the national figures (poverty for the
#       country, unit 00, and each province; the fund's receipts) and the
#       lag.  The processes keep running.
#   topology.sh figures [DIR]    print the figures again
#   topology.sh stop [DIR]       stop the daemons and the cluster
#
# B is a build directory holding bin/ (default build/, then build-asan/).
# Each daemon has DIR/<name>/{data,povtrackd.ini,daemon.log} and ipc://
# endpoints in DIR/<name>/; names: p<code>, p<first>-standby, national.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

cmd=${1:-}
[ $# -gt 0 ] && shift
dir=/tmp/povtrack-topology
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then dir=$1; shift; fi
build='' provinces=60,68 scale=0.02 national_sample=0 households=
units=$root/../shared/data/units-vn-2025-03-01.csv
# A worktree sits one level deeper than the checkout.
[ -r "$units" ] || units=$root/../../shared/data/units-vn-2025-03-01.csv
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --provinces) provinces=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --units) units=$2; shift 2 ;;
    --national-sample) national_sample=1; shift ;;
    --households) households=$2; shift 2 ;;
    *) echo "topology.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$build" ]; then
  for b in build build-asan; do
    [ -x "$root/$b/bin/povtrackd" ] && { build=$root/$b; break; }
  done
fi
case "$build" in /*) ;; '') ;; *) build=$root/$build ;; esac
bin=$build/bin
die() { echo "topology.sh: $*" >&2; exit 1; }

povtrack() { # NAME ARGS...: the CLI against daemon NAME
  local n=$1 c=$2; shift 2
  "$bin/povtrack" "$c" --ingest "ipc://$dir/$n/ingest.sock" \
    --query "ipc://$dir/$n/query.sock" "$@"
}

start_daemon() { # NAME [CONFIG LINES...]
  local n=$1; shift
  mkdir -p "$dir/$n"
  printf '%s\n' "$@" >"$dir/$n/povtrackd.ini"
  "$bin/povtrackd" -d "$dir/$n/data" -c "$dir/$n/povtrackd.ini" \
    --ingest "ipc://$dir/$n/ingest.sock" --query "ipc://$dir/$n/query.sock" \
    --alerts "ipc://$dir/$n/alerts.sock" >>"$dir/$n/daemon.log" 2>&1 &
  echo $! >"$dir/$n/pid"
  for _ in $(seq 300); do # until its plugin host answers
    povtrack "$n" stats --json >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$dir/$n/pid")" 2>/dev/null ||
      die "$n did not start: see $dir/$n/daemon.log"
    sleep 0.1
  done
  die "$n does not answer: see $dir/$n/daemon.log"
}

stats_json() { povtrack "$1" stats --json 2>/dev/null || echo '{}'; }

# national caught up: every province's cursor is its stream's last
# sequence and that is the province's own last_seq, and every plugin has
# applied the national log.
caught_up() {
  local nat p pl
  nat=$(stats_json national)
  for p in ${provinces//,/ }; do
    pl=$(stats_json "p$p" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("last_seq",-1))')
    /usr/bin/python3 - "$p" "$pl" "$nat" <<'EOF' || return 1
import json, sys
p, last, s = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
n = s.get("national", {}).get(p, {})
ok = n.get("cursor") == last and n.get("stream_last_seq") == last
ok = ok and all(x["applied_seq"] == s["last_seq"] for x in s.get("plugins", []))
sys.exit(0 if ok else 1)
EOF
  done
}

figures() {
  local first=${provinces%%,*}
  echo "== national figures (national daemon, $dir/national)"
  povtrack national query poverty unit=00 year=2024
  for p in ${provinces//,/ }; do
    echo "-- province $p, as the national daemon computes it"
    povtrack national query poverty unit="$p" year=2024
    echo "-- province $p, as its own povtrackd computes it"
    povtrack "p$p" query poverty unit="$p" year=2024
  done
  echo "-- the fund, country (unit 00), 2024"
  povtrack national query fund unit=00 year=2024
  echo "== lag (national stats)"
  stats_json national | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
print("national log: last_seq %d" % s.get("last_seq", 0))
for p, n in sorted(s.get("national", {}).items()):
    print("province %s: %s, cursor %d, stream last %d, lag %d records" % (
        p, n["state"], n["cursor"], n["stream_last_seq"], n["lag_records"]))
'
  echo "== standby of $first (p$first-standby)"
  stats_json "p$first-standby" | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin).get("mirror", {})
print("state %s, log holds %d of the stream" % (m.get("state"), m.get("acked_seq", 0)))'
}

case "$cmd" in
start)
  [ -x "$bin/povtrackd" ] || die "no povtrackd in ${bin:-a build directory} (--build)"
  [ -r "$units" ] || die "$units is missing (--units)"
  [ ! -e "$dir/nats" ] || die "$dir is in use: topology.sh stop $dir first"
  mkdir -p "$dir"
  urls=$(bash "$root/tools/scripts/nats-cluster.sh" start "$dir/nats")
  echo "NATS cluster: $urls"
  first=${provinces%%,*}
  for p in ${provinces//,/ }; do
    start_daemon "p$p" "[mirror]" "servers = $urls" "province = $p"
    echo "province $p: povtrackd pid $(cat "$dir/p$p/pid"), mirror to POVTRACK_LOG_$p"
  done
  start_daemon "p$first-standby" "[mirror]" "servers = $urls" \
    "province = $first" "standby = yes"
  echo "standby of $first: povtrackd pid $(cat "$dir/p$first-standby/pid")"
  start_daemon national "[national]" "servers = $urls" "provinces = $provinces"
  echo "national: povtrackd pid $(cat "$dir/national/pid")"
  t0=$(date +%s.%N) senders=''
  for p in ${provinces//,/ }; do # the provinces take their data at once
    if [ "$national_sample" = 1 ]; then
      "$bin/povtrack-sample" --national --units "$units" --province "$p" \
        ${households:+--households "$households"} --now 1767200000 2>/dev/null
    else
      "$bin/povtrack-sample" --units "$units" --province "$p" --scale "$scale" \
        --from-year 2024 --to-year 2024 --now 1767200000 2>/dev/null
    fi | povtrack "p$p" send --batch 10000 | tail -1 |
      sed "s/^/province $p: /" &
    senders="$senders $!"
  done
  maxlag=0
  # Until the sends are done and the national daemon has all of it; the
  # national lag sampled meanwhile.
  sending() {
    local pid
    for pid in $senders; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
  }
  until ! sending && caught_up; do
    lag=$(stats_json national | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
print(sum(n.get("lag_records", 0) for n in s.get("national", {}).values()))' 2>/dev/null || echo 0)
    [ "$lag" -gt "$maxlag" ] && maxlag=$lag
    sleep 0.5
  done
  t1=$(date +%s.%N)
  n=$(stats_json national | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["last_seq"])')
  printf 'national daemon caught up %.1f s after the sends began: %d records, %.0f records/s end to end; largest lag seen %d records\n' \
    "$(echo "$t1 - $t0" | bc)" "$n" "$(echo "$n / ($t1 - $t0)" | bc -l)" "$maxlag"
  echo "disk: national log $(du -sh "$dir/national/data/log" | cut -f1), national state $(du -sh "$dir/national/data/state" | cut -f1), JetStream $(du -sh "$dir/nats" | cut -f1)"
  figures
  ;;
figures) figures ;;
stop)
  for n in national "$dir"/p*; do
    n=$(basename "$n")
    [ -f "$dir/$n/pid" ] || continue
    pid=$(cat "$dir/$n/pid")
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$dir/$n/pid"
  done
  [ -d "$dir/nats" ] && bash "$root/tools/scripts/nats-cluster.sh" stop "$dir/nats"
  rm -rf "$dir/nats"
  echo "stopped (data left in $dir)"
  ;;
*) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
