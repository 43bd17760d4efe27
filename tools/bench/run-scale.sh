#!/usr/bin/env bash
# National scale: the whole country (or some provinces) through the real
# daemon.  Starts povtrackd (all six plugins) on a fresh data directory with
# ipc endpoints, streams `povtrack-sample --national` straight into
# `povtrack send --batch 10000` (no file in between), waits until every
# plugin has applied the log, restarts the daemon and rebuilds every plugin
# from the log with `povtrack rebuild` (all six at once: one pass over the
# log), then asks for the national poverty rate.  The catalogue has no
# national unit (provinces have no parent), so the rate is summed here over
# the provinces' poverty answers: sum(poor) / sum(households).
#
# Reported per step: wall time, disk (du of DATA/log and DATA/state), peak
# memory (VmHWM) of the ingest process, the plugin host, the generator and
# the sender, and the resident memory of both daemon processes when 1, 10
# and 30 million events had been ingested.  A sampler polls `povtrack stats`
# and /proc/PID/status every 2 s into DIR/samples.tsv.
#
#   tools/bench/run-scale.sh [BUILD_DIR] [--provinces 01,79,...]
#                            [--households N] [--year Y] [--dir DIR] [--keep]
#                            [--reuse]
#
# BUILD_DIR defaults to build/ (a Release build with the benchmarks and the
# generator: cmake -DCMAKE_BUILD_TYPE=Release -DPOVTRACK_BENCH=ON
# -DPOVTRACK_SAMPLE=ON).  Without --provinces it generates all 63 provinces, about 27
# million households and 54 million events: about 12 GB of log, 30 GB of
# disk in all, and 30-40 minutes on 2 cores.  With --provinces it runs that
# fraction and prints the factor to the whole country's households.  DIR
# defaults to a fresh /tmp/perf-scale.XXXXXX, removed at the end unless
# --keep.  --reuse with a kept DIR skips the ingest and starts with the
# rebuild.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

build=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
case "$build" in /*) ;; *) build=$root/$build ;; esac
provinces= households= year=2024 dir= keep=0 reuse=0
while [ $# -gt 0 ]; do
  case "$1" in
    --provinces) provinces=$2; shift 2 ;;
    --households) households=$2; shift 2 ;;
    --year) year=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --reuse) reuse=1; shift ;;
    *) echo "run-scale.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
bin=$build/bin
units=$root/../shared/data/units-vn-2025-03-01.csv
for exe in povtrackd povtrack povtrack-sample povtrack-query-bench; do
  if [ ! -x "$bin/$exe" ]; then
    echo "run-scale.sh: $bin/$exe is missing; build first:" \
      "cmake -S . -B ${build#"$root"/} -DCMAKE_BUILD_TYPE=Release" \
      "-DPOVTRACK_BENCH=ON -DPOVTRACK_SAMPLE=ON && cmake --build ${build#"$root"/}" >&2
    exit 2
  fi
done
[ -r "$units" ] || { echo "run-scale.sh: $units is missing" >&2; exit 2; }

if [ -z "$dir" ]; then dir=$(mktemp -d /tmp/perf-scale.XXXXXX); fi
mkdir -p "$dir"
data=$dir/data
Q=ipc://$dir/query.sock
I=ipc://$dir/ingest.sock
A=ipc://$dir/alerts.sock
daemon= sampler=
timer=
if [ -x /usr/bin/time ]; then timer=/usr/bin/time; fi

cleanup() {
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; fi
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"
    wait "$daemon" || true
  fi
  if [ "$keep" = 0 ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# "kB" values of /proc/PID/status, 0 when the process is gone.
kb() { awk -v k="$2:" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' \
         "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
host_pid() { pgrep -P "$daemon" 2>/dev/null | head -n1 || true; }
# last_seq and the lowest applied_seq of the plugins.
stats() {
  "$bin/povtrack" stats --json --query "$Q" --timeout 20000 2>/dev/null |
    awk '{ match($0, /"last_seq":[0-9]+/); last = substr($0, RSTART + 11, RLENGTH - 11)
           min = -1; s = $0
           while (match(s, /"applied_seq":[0-9]+/)) {
             v = substr(s, RSTART + 14, RLENGTH - 14) + 0
             if (min < 0 || v < min) min = v
             s = substr(s, RSTART + RLENGTH) }
           print last + 0, min }'
}
du_mib() { du -sm "$1" 2>/dev/null | cut -f1; }

start_daemon() {
  "$bin/povtrackd" --data-dir "$data" --ingest "$I" --query "$Q" \
    --alerts "$A" --log-level warn 2>>"$dir/povtrackd.log" &
  daemon=$!
  if ! "$bin/povtrack" ping --wait --query "$Q" --timeout 30000 >/dev/null; then
    echo "run-scale.sh: povtrackd did not answer; its log:" >&2
    cat "$dir/povtrackd.log" >&2
    exit 1
  fi
}
stop_daemon() {
  kill -TERM "$daemon"
  wait "$daemon" || true
  daemon=
}

# Every 2 s: time, last_seq, min applied, then VmRSS VmHWM RssAnon (kB) of
# the ingest process and of the plugin host.
sample() {
  local t0=$1
  while :; do
    local h s
    h=$(host_pid)
    s=$(stats || echo "0 0")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(secs "$t0" "$(now)")" \
      ${s:-0 0} \
      "$(kb "$daemon" VmRSS)" "$(kb "$daemon" VmHWM)" "$(kb "$daemon" RssAnon)" \
      "$(kb "${h:-0}" VmRSS)" "$(kb "${h:-0}" VmHWM)" "$(kb "${h:-0}" RssAnon)"
    sleep 2
  done
}
wait_applied() {
  while :; do
    read -r last min < <(stats || echo "0 -1")
    if [ "${min:--1}" -ge 0 ] && [ "$min" -ge "$last" ] && [ "$last" -gt 0 ]; then
      echo "$last"
      return
    fi
    sleep 1
  done
}

echo "== machine"
echo "cpus: $(nproc); cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "data: $dir ($(df -T "$dir" | awk 'NR == 2 { print $2 ", " $5 " free" }'))"
sel=
[ -n "$provinces" ] && sel="--province $provinces"
[ -n "$households" ] && sel="$sel --households $households"
echo "generator: povtrack-sample --national --year $year $sel"

# ---- step 1: generate and ingest, the plugins applying meanwhile ----
start_daemon
hp=$(host_pid)
if [ "$reuse" = 1 ] && [ -f "$dir/gen.counts" ]; then
  echo "== ingest: reusing the log of $dir"
  t0=$(now) t1=$t0 t2=$t0
  read -r applied _ < <(stats)
  events=$(awk '$1 == "total" { print $2 }' "$dir/gen.counts")
  hh=$(awk '$1 == "households" { print $2 }' "$dir/gen.counts")
  ing_hwm=$(kb "$daemon" VmHWM)
  host_hwm1=$(kb "$hp" VmHWM)
  log1=$(du_mib "$data/log")
  state1=$(du_mib "$data/state")
  load1=$(load)
else
  echo "== ingest (load $(load))"
  t0=$(now)
  sample "$t0" >"$dir/samples.tsv" &
  sampler=$!
  # shellcheck disable=SC2086
  $timer ${timer:+-f "%e s, max RSS %M kB" -o "$dir/gen.time"} \
    "$bin/povtrack-sample" --national --units "$units" --year "$year" $sel \
    --now 1790000000 2>"$dir/gen.counts" |
    $timer ${timer:+-f "%e s, max RSS %M kB" -o "$dir/send.time"} \
    "$bin/povtrack" send --ingest "$I" --batch 10000 --timeout 60000 \
    >"$dir/send.out"
  t1=$(now)
  events=$(awk '$1 == "total" { print $2 }' "$dir/gen.counts")
  hh=$(awk '$1 == "households" { print $2 }' "$dir/gen.counts")
  tail -n1 "$dir/send.out"
  applied=$(wait_applied)
  t2=$(now)
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sampler=
  ing_hwm=$(kb "$daemon" VmHWM)
  host_hwm1=$(kb "$hp" VmHWM)
  log1=$(du_mib "$data/log")
  state1=$(du_mib "$data/state")
  load1=$(load)
fi

# ---- step 2: rebuild every plugin from the log ----
stop_daemon
start_daemon
hp=$(host_pid)
echo "== rebuild (load $(load))"
t3=$(now)
sample "$t3" >"$dir/samples-rebuild.tsv" &
sampler=$!
# Dropping a big plugin's state takes seconds (mdb_drop frees every page),
# and a rebuild must not be resent: one attempt, a long timeout.
for p in poverty fund standard relocation credit deadlines; do
  "$bin/povtrack" rebuild --no-wait --query "$Q" --timeout 600000 \
    --retries 0 "$p" >/dev/null 2>&1
done
wait_applied >/dev/null
t4=$(now)
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=
host_hwm2=$(kb "$hp" VmHWM)
host_anon2=$(awk -F'\t' 'BEGIN { m = 0 } $9 > m { m = $9 } END { print m }' \
  "$dir/samples-rebuild.tsv")
state2=$(du_mib "$data/state")
load2=$(load)

# ---- step 3: the national poverty rate ----
echo "== query (load $(load))"
codes=$(awk -F, '{ sub(/\r$/, "") } NR > 1 && $NF == "province" { print $1 }' "$units")
if [ -n "$provinces" ]; then codes=$(echo "$provinces" | tr ',' '\n'); fi
t5=$(now)
: >"$dir/provinces.json"
for c in $codes; do
  "$bin/povtrack" query --json --query "$Q" poverty "unit=$c" "year=$year" \
    >>"$dir/provinces.json"
  echo >>"$dir/provinces.json"
done
t6=$(now)
national=$(awk '
  match($0, /"households":[0-9]+/) { h += substr($0, RSTART + 13, RLENGTH - 13) }
  match($0, /"poor":[0-9]+/) { p += substr($0, RSTART + 7, RLENGTH - 7); n++ }
  END { printf "%d provinces: %d poor of %d households = %.4f%%", n, p, h,
               h ? 100 * p / h : 0 }' "$dir/provinces.json")
first=$(echo "$codes" | head -n1)
qlat=$("$bin/povtrack-query-bench" --query "$Q" \
  --units "$(echo "$codes" | paste -sd, -)" --year "$year" \
  --requests 10000 --warmup 500)
host_rss3=$(kb "$hp" VmRSS)
stop_daemon

# ---- report ----
at_mark() { # the first sample at or past $1 events
  awk -F'\t' -v m="$1" '$2 >= m && !done {
      printf "%d s | %s applied | ingest %s / %s MiB | host %s / %s MiB",
        $1, $3, int($4 / 1024), int($6 / 1024), int($7 / 1024), int($9 / 1024)
      done = 1 }' "$dir/samples.tsv"
}
echo
echo "== results (events: $events, households: $hh)"
echo "| step | wall | events/s | log | state | peak memory | load |"
echo "|---|---|---|---|---|---|---|"
echo "| generate + send + ingest | $(secs "$t0" "$t1") s | $(awk -v n="$events" -v t="$(secs "$t0" "$t1")" 'BEGIN { printf "%.0f", n / t }') | | | generator $(cat "$dir/gen.time" 2>/dev/null || echo ?); sender $(cat "$dir/send.time" 2>/dev/null || echo ?) | $load1 |"
echo "| ... until all six plugins applied it | $(secs "$t0" "$t2") s | $(awk -v n="$applied" -v t="$(secs "$t0" "$t2")" 'BEGIN { printf "%.0f", n / t }') | $log1 MiB | $state1 MiB | ingest VmHWM $(mib "$ing_hwm") MiB, host VmHWM $(mib "$host_hwm1") MiB | $load1 |"
echo "| rebuild all six plugins from the log | $(secs "$t3" "$t4") s | $(awk -v n="$applied" -v t="$(secs "$t3" "$t4")" 'BEGIN { printf "%.0f", n / t }') | $log1 MiB | $state2 MiB | host VmHWM $(mib "$host_hwm2") MiB (RssAnon max $(mib "$host_anon2") MiB) | $load2 |"
echo "| national rate: poverty query of every province, summed | $(secs "$t5" "$t6") s | | | | host VmRSS $(mib "$host_rss3") MiB | $(load) |"
echo
echo "national rate ($year): $national"
echo "province queries on this state: $qlat"
echo
echo "resident memory (VmRSS / RssAnon) while ingesting:"
for m in 1000000 10000000 30000000; do
  r=$(at_mark $m)
  [ -n "$r" ] && echo "  at $m events: $r"
done
echo "  at the end ($applied events): ingest VmHWM $(mib "$ing_hwm") MiB, host VmHWM $(mib "$host_hwm1") MiB"
if [ -n "$provinces" ] || [ -n "$households" ]; then
  awk -v h="$hh" 'BEGIN { printf "fraction: %d households = 1/%.2f of the country (26,900,000); scale times and sizes by %.2f to extrapolate\n", h, 26900000 / h, 26900000 / h }'
fi
