#!/usr/bin/env bash
# A national reorganisation: what the change of 1 July 2025 (districts
# abolished, 63 provinces merged into 34, ~10,000 communes into ~3,300)
# costs a daemon that already holds the whole country.
#
# The official mapping table is not in this repository, so
# tools/bench/reform_mapping.py derives a synthetic one of the same shape
# from the pre-reform unit list (../shared/data/units-vn-2025-03-01.csv):
# the first 29 pairs of provinces by code merge (63 -> 34), every district
# is abolished, and within each district consecutive communes merge in
# threes (a remainder of one joins the last group, of two makes a group of
# two) into the group's first code, under the new province; one effective
# date, 2025-07-01.
#
# Steps, on a fresh povtrackd (all six plugins, ipc endpoints, a data
# directory of its own):
#  1. load: `povtrack-sample --national` (every unit of the list, --households
#     households in all, a household.assessed and a household.status each for
#     2024, donations at --scale 0.1, the reviews) piped into `povtrack send
#     --batch 10000`; wait until every plugin has applied it; ask poverty for
#     2024 in each of the 63 provinces (the totals to compare with below);
#  2. the change: time `povtrack unitmap reform.csv` (conversion) and
#     `povtrack send` of its events (ingest: the daemon checks every merge
#     and abolition against the registry, including that no unit is left
#     under a closing district or province); the send must report
#     0 rejected;
#  3. time until all six plugins have applied the change (`povtrack stats`
#     polled every 0.1 s); poverty only marks the years from 2024 on as
#     dirty here, and re-rolls them on its next record;
#  4. queries on the new units while poverty is dirty: 2026 of each of the
#     34 provinces, and 2024 regrouped as of 2026-07-01 (`as_of`), whose sums
#     must equal the 63 old provinces' 2024 totals of step 1; then 2026
#     statuses for a sample of new communes (every tenth): the first status
#     alone (poverty re-rolls the dirty years before applying it), then the
#     rest; then the same queries again;
#  5. peak memory (VmHWM) of the ingest process and of the plugin host during
#     the change (steps 2-3), after resetting it (/proc/PID/clear_refs).
#
#   tools/bench/run-reform.sh [--build DIR] [--no-build] [--households N]
#                             [--every K] [--dir DIR] [--keep] [--perf]
#
# --build DIR   the Release build to use, built here (default
#               build-perf-reform/; deps.sh installs what is missing first)
# --no-build    use the --build directory as it is (built before)
# --households  households of the load (default 2,000,000, 1/13 of the
#               country: about 4.1 million events, all 10,806 units)
# --every K     2026 statuses for every K-th new commune (default 10), 50
#               households each
# --dir DIR     data and outputs (default a fresh /tmp/perf-reform.XXXXXX,
#               removed at the end unless --keep)
# --perf        record both daemon processes with `perf record` during
#               steps 2-3 (DIR/perf-change.data; -F 999 --call-graph dwarf)
#               and print the top symbols
#
# Installs python3 (for the mapping) when missing; --perf needs perf.
# About 80 s on 2 cores with the defaults (after the build), and 2.2 GB of
# disk.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

build=build-perf-reform dobuild=1 households=2000000 every=10 dir='' keep=0
perf=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --no-build) dobuild=0; shift ;;
    --households) households=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --perf) perf=1; shift ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0 ;;
    *) echo "run-reform.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$build" in /*) ;; *) build=$root/$build ;; esac
bin=$build/bin
units=$root/../shared/data/units-vn-2025-03-01.csv
[ -r "$units" ] || { echo "run-reform.sh: $units is missing" >&2; exit 2; }
if ! command -v python3 >/dev/null; then
  # The mapping generator (tools/bench/reform_mapping.py) needs it; a fresh
  # Debian 12 may not have it.
  echo "run-reform.sh: installing python3" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends python3 >/dev/null
fi
[ "$perf" = 0 ] || command -v perf >/dev/null ||
  { echo "run-reform.sh: --perf needs perf (apt-get install linux-perf)" >&2; exit 2; }

if [ "$dobuild" = 1 ]; then
  bash "$root/tools/scripts/deps.sh"
  echo "== build (Release, $build)" >&2
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DPOVTRACK_TESTS=OFF -DPOVTRACK_SAMPLE=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" --target povtrackd povtrack \
    povtrack-sample poverty fund standard relocation credit deadlines >/dev/null
fi
for exe in povtrackd povtrack povtrack-sample; do
  [ -x "$bin/$exe" ] || { echo "run-reform.sh: $bin/$exe is missing" >&2; exit 2; }
done

if [ -z "$dir" ]; then dir=$(mktemp -d /tmp/perf-reform.XXXXXX); fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data
Q=ipc://$dir/query.sock
I=ipc://$dir/ingest.sock
A=ipc://$dir/alerts.sock
daemon='' perf_pid=''

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$perf_pid" ] && kill -0 "$perf_pid" 2>/dev/null; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
  fi
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"
    wait "$daemon" || true
  fi
  if [ "$keep" = 0 ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 1000 * (b - a) }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
kb() { awk -v k="$2:" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' \
         "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
num() { awk -v n="$1" 'BEGIN { s = sprintf("%d", n); o = ""
          while (length(s) > 3) { o = "," substr(s, length(s) - 2) o
                                  s = substr(s, 1, length(s) - 3) }
          print s o }'; }
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
# Wait until every plugin has applied record $1 (polling every $2 s).
wait_applied() {
  while :; do
    read -r _ min < <(stats || echo "0 -1")
    if [ "${min:--1}" -ge "$1" ]; then return; fi
    sleep "$2"
  done
}
last_seq() { stats | cut -d' ' -f1; }
# send FILE OUT: povtrack send; fails unless every event was stored.
send() {
  local rc=0
  "$bin/povtrack" send --ingest "$I" --batch "${3:-1000}" --timeout 60000 \
    "$1" >"$2" 2>&1 || rc=$?
  if [ "$rc" != 0 ] || ! tail -n1 "$2" | grep -q ' 0 rejected$'; then
    echo "run-reform.sh: povtrack send $1 failed (exit $rc):" >&2
    tail -n 20 "$2" >&2
    exit 1
  fi
}
# query_all YEAR AS_OF CODES...: poverty of each code into $qout (JSON
# lines); sets qn, qtotal (ms), qmax (ms), qpoor, qhh.  Fails on an error.
query_all() {
  local year=$1 asof=$2 c t a b
  shift 2
  : >"$qout"
  qn=0 qtotal=0 qmax=0
  for c in "$@"; do
    a=$(now)
    "$bin/povtrack" query --json --query "$Q" --timeout 60000 poverty \
      "unit=$c" "year=$year" ${asof:+"as_of=$asof"} >>"$qout" || {
      echo "run-reform.sh: poverty unit=$c year=$year ${asof:+as_of=$asof} failed" >&2
      exit 1
    }
    b=$(now)
    t=$(ms "$a" "$b")
    qn=$((qn + 1))
    qtotal=$(awk -v s="$qtotal" -v t="$t" 'BEGIN { print s + t }')
    qmax=$(awk -v m="$qmax" -v t="$t" 'BEGIN { print (t > m ? t : m) }')
  done
  read -r qpoor qhh < <(awk '
    match($0, /"households":[0-9]+/) { h += substr($0, RSTART + 13, RLENGTH - 13) }
    match($0, /"poor":[0-9]+/) { p += substr($0, RSTART + 7, RLENGTH - 7) }
    END { print p + 0, h + 0 }' "$qout")
}
qline() { # label: the last query_all as a table row
  awk -v l="$1" -v n="$qn" -v t="$qtotal" -v m="$qmax" -v p="$qpoor" -v h="$qhh" \
    'BEGIN { printf "| %s | %d | %.0f ms | %.1f ms | %.1f ms | %d poor of %d |\n",
             l, n, t, t / n, m, p, h }'
}
# Reset the peak RSS of a process (Linux: "5" > clear_refs).
reset_hwm() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null; }

echo "== machine"
echo "cpus: $(nproc); cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1); memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "data: $dir ($(df -T "$dir" | awk 'NR == 2 { print $2 ", " $5 " free" }'))"
echo "build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || echo ?))"

# ---- the synthetic mapping ----
python3 "$root/tools/bench/reform_mapping.py" "$units" -o "$dir/reform.csv" \
  2>"$dir/mapping.txt"
cat "$dir/mapping.txt"

"$bin/povtrackd" --data-dir "$data" --ingest "$I" --query "$Q" \
  --alerts "$A" --log-level warn 2>>"$dir/povtrackd.log" &
daemon=$!
if ! "$bin/povtrack" ping --wait --query "$Q" --timeout 30000 >/dev/null; then
  echo "run-reform.sh: povtrackd did not answer; its log:" >&2
  cat "$dir/povtrackd.log" >&2
  exit 1
fi
hp=$(host_pid)
ingest_pid=$daemon

# ---- step 1: the country before the change ----
echo "== 1. load: povtrack-sample --national --households $households --scale 0.1 (load $(load))"
t0=$(now)
"$bin/povtrack-sample" --national --units "$units" --year 2024 \
  --households "$households" --scale 0.1 --now 1790000000 \
  2>"$dir/gen.counts" |
  "$bin/povtrack" send --ingest "$I" --batch 10000 --timeout 60000 \
    >"$dir/load.out"
t1=$(now)
tail -n1 "$dir/load.out"
grep -q ' 0 rejected$' "$dir/load.out" ||
  { echo "run-reform.sh: the load was not fully stored" >&2; exit 1; }
events=$(awk '$1 == "total" { print $2 }' "$dir/gen.counts")
hh=$(awk '$1 == "households" { print $2 }' "$dir/gen.counts")
seq1=$(last_seq)
wait_applied "$seq1" 1
t2=$(now)
echo "   $(num "$events") events ($(num "$hh") households, $(awk -v h="$hh" 'BEGIN { printf "1/%.1f", 26900000 / h }') of the country's), ingested in $(secs "$t0" "$t1") s, applied by all six plugins after $(secs "$t0" "$t2") s"
ing_hwm_load=$(kb "$daemon" VmHWM) host_hwm_load=$(kb "$hp" VmHWM)
mapfile -t old_provinces < <(awk -F, '{ sub(/\r$/, "") } NR > 1 && $NF == "province" { print $1 }' "$units")
qout=$dir/q-2024-old.jsonl
query_all 2024 "" "${old_provinces[@]}"
q2024_old=$(qline "2024, each of the ${#old_provinces[@]} old provinces (before the change)")
poor_before=$qpoor hh_before=$qhh

# ---- steps 2 and 3: the change ----
echo "== 2. the change (load $(load))"
ing_rss0=$(kb "$daemon" VmRSS) host_rss0=$(kb "$hp" VmRSS)
hwm_reset=yes
reset_hwm "$daemon" && reset_hwm "$hp" || hwm_reset=no
if [ "$perf" = 1 ]; then
  perf record -F 999 --call-graph dwarf,16384 -o "$dir/perf-change.data" -p "$daemon,$hp" \
    >"$dir/perf.out" 2>&1 &
  perf_pid=$!
  sleep 1
fi
t3=$(now)
"$bin/povtrack" unitmap "$dir/reform.csv" >"$dir/changes.jsonl" \
  2>"$dir/unitmap.txt"
t4=$(now)
cat "$dir/unitmap.txt"
nchanges=$(grep -c . "$dir/changes.jsonl")
send "$dir/changes.jsonl" "$dir/changes.out"
t5=$(now)
tail -n1 "$dir/changes.out"
seq2=$(last_seq)
wait_applied "$seq2" 0.1
t6=$(now)
if [ -n "$perf_pid" ]; then
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  perf_pid=
fi
ing_hwm=$(kb "$daemon" VmHWM) host_hwm=$(kb "$hp" VmHWM)
ing_anon=$(kb "$daemon" RssAnon) host_anon=$(kb "$hp" RssAnon)
echo "   unitmap $(secs "$t3" "$t4") s, send $(secs "$t4" "$t5") s, applied $(secs "$t5" "$t6") s after"

# ---- step 4: queries on the new units, and 2026 records ----
echo "== 4. queries and 2026 records (load $(load))"
# the 63 provinces less those that merged into another ("02,01,...")
mapfile -t new_provinces < <(awk -F, '
  NR == FNR { if (FNR > 1 && length($1) == 2 && $1 "" != $2 "") gone[$1] = 1; next }
  { sub(/\r$/, "") }
  FNR > 1 && $NF == "province" && !($1 in gone) { print $1 }' \
  "$dir/reform.csv" "$units")
merged=$(awk -F, 'NR > 1 && length($1) == 2 && $1 "" != $2 "" { print $2; exit }' "$dir/reform.csv")
asof=1782838800 # 2026-07-01 00:00, UTC+7
qout=$dir/q-2026-dirty.jsonl
query_all 2026 "" "${new_provinces[@]}"
q2026_dirty=$(qline "2026, each of the ${#new_provinces[@]} new provinces (poverty dirty)")
qout=$dir/q-2024asof-dirty.jsonl
query_all 2024 "$asof" "${new_provinces[@]}"
q2024asof_dirty=$(qline "2024 as of 2026-07-01, each of the ${#new_provinces[@]} new provinces (poverty dirty)")
poor_asof=$qpoor hh_asof=$qhh
a=$(now)
"$bin/povtrack" query --json --query "$Q" poverty "unit=$merged" year=2024 \
  "as_of=$asof" >"$dir/q-merged.json"
b=$(now)
t_merged=$(ms "$a" "$b")

# 2026: a unit.households and 50 statuses in every $every-th new commune.
at=1788195600 # 2026-09-01 00:00, UTC+7
awk -v every="$every" -v at="$at" '
  /"type":"unit.changed"/ && /"kind":"merge"/ && match($0, /"successor":"[0-9][0-9][0-9][0-9][0-9]"/) {
    c = substr($0, RSTART + 13, 5)
    if (n++ % every) next
    printf "{\"v\":1,\"id\":\"reform-2026-hh-%s\",\"type\":\"unit.households\",\"at\":%d,\"unit\":\"%s\",\"data\":{\"year\":2026,\"households\":60}}\n", c, at, c
    for (i = 1; i <= 50; i++) {
      s = i % 20 == 0 ? "poor" : i % 12 == 0 ? "near_poor" : i % 5 == 0 ? "average" : "none"
      printf "{\"v\":1,\"id\":\"reform-2026-st-%s-%d\",\"type\":\"household.status\",\"at\":%d,\"unit\":\"%s\",\"household\":\"h-%s-%d\",\"data\":{\"year\":2026,\"status\":\"%s\"}}\n", c, i, at, c, c, i, s
    }
  }' "$dir/changes.jsonl" >"$dir/y2026.jsonl"
n2026=$(grep -c . "$dir/y2026.jsonl")
c2026=$(grep -c '"unit.households"' "$dir/y2026.jsonl")
sed -n 2p "$dir/y2026.jsonl" >"$dir/y2026-first.jsonl"
sed 2d "$dir/y2026.jsonl" >"$dir/y2026-rest.jsonl"
t7=$(now)
send "$dir/y2026-first.jsonl" "$dir/y2026-first.out"
wait_applied "$(last_seq)" 0.1
t8=$(now)
send "$dir/y2026-rest.jsonl" "$dir/y2026-rest.out" 10000
wait_applied "$(last_seq)" 0.1
t9=$(now)
qout=$dir/q-2026-clean.jsonl
query_all 2026 "" "${new_provinces[@]}"
q2026_clean=$(qline "2026, each of the ${#new_provinces[@]} new provinces (after the 2026 records)")
poor_2026=$qpoor hh_2026=$qhh
qout=$dir/q-2024asof-clean.jsonl
query_all 2024 "$asof" "${new_provinces[@]}"
q2024asof_clean=$(qline "2024 as of 2026-07-01, each of the ${#new_provinces[@]} new provinces (after)")
poor_asof2=$qpoor hh_asof2=$qhh
qout=$dir/q-2024-kept.jsonl
query_all 2024 "" "${new_provinces[@]}"
q2024_kept=$(qline "2024 (no as_of), each of the ${#new_provinces[@]} codes kept (after)")
ing_hwm_all=$(kb "$daemon" VmHWM) host_hwm_all=$(kb "$hp" VmHWM)
du_log=$(du -sm "$data/log" | cut -f1) du_state=$(du -sm "$data/state" | cut -f1)

kill -TERM "$daemon"
wait "$daemon" || true
daemon=

# ---- report ----
same() { [ "$1" = "$3" ] && [ "$2" = "$4" ] && echo "equal" || echo "DIFFERENT"; }
echo
echo "== results: $(num "$events") events loaded ($(num "$hh") households, 1/$(awk -v h="$hh" 'BEGIN { printf "%.1f", 26900000 / h }') of the country; every unit: 63 provinces, 696 districts, 10,047 communes); load $(load)"
echo "data at the end: log $du_log MiB, state $du_state MiB"
echo "mapping (synthetic): $(sed 's/^reform_mapping.py: //' "$dir/mapping.txt")"
echo
echo "| step | wall | notes |"
echo "|---|---:|---|"
echo "| load: generate + send + ingest | $(secs "$t0" "$t1") s | $(num "$events") events, $(awk -v n="$events" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }') events/s |"
echo "| ... until all six plugins applied it | $(secs "$t0" "$t2") s | ingest VmHWM $(mib "$ing_hwm_load") MiB, host VmHWM $(mib "$host_hwm_load") MiB |"
echo "| \`povtrack unitmap reform.csv\` | $(secs "$t3" "$t4") s | $(sed 's/^unitmap: //' "$dir/unitmap.txt") |"
echo "| \`povtrack send\` of the $(num "$nchanges") change events (ingest, checked and stored) | $(secs "$t4" "$t5") s | $(tail -n1 "$dir/changes.out" | sed 's/^sent //'); $(awk -v n="$nchanges" -v a="$t4" -v b="$t5" 'BEGIN { printf "%.2f ms an event", 1000 * (b - a) / n }') |"
echo "| ... until all six plugins applied them | $(secs "$t5" "$t6") s after the send ($(secs "$t4" "$t6") s in all) | poverty marks 2024 on dirty; the five others skip unit events |"
echo "| first 2026 status after the change (poverty re-rolls the dirty years first) | $(secs "$t7" "$t8") s | send + apply of one event |"
echo "| the other $(num $((n2026 - 1))) 2026 events ($c2026 new communes) | $(secs "$t8" "$t9") s | send + apply |"
echo "| poverty 2024 as of 2026-07-01 for merged province $merged (one \`povtrack query\`, poverty dirty) | $t_merged ms | |"
echo
echo "| poverty queries (\`povtrack query\` per province, process start included) | queries | total | mean | max | sum |"
echo "|---|---:|---:|---:|---:|---|"
echo "$q2024_old"
echo "$q2026_dirty"
echo "$q2024asof_dirty"
echo "$q2026_clean"
echo "$q2024asof_clean"
echo "$q2024_kept"
echo
echo "2024 totals, ${#old_provinces[@]} old provinces vs ${#new_provinces[@]} new ones as of 2026-07-01: $(num "$poor_before") / $(num "$hh_before") vs $(num "$poor_asof") / $(num "$hh_asof") poor / households: $(same "$poor_before" "$hh_before" "$poor_asof" "$hh_asof") (after the 2026 records: $(same "$poor_before" "$hh_before" "$poor_asof2" "$hh_asof2"))"
echo "2026 in the ${#new_provinces[@]} new provinces: $(num "$poor_2026") poor of $(num "$hh_2026") households (expected $((c2026 * 2)) of $((c2026 * 60)))"
echo
echo "memory during the change (steps 2-3; peak reset before: $hwm_reset):"
echo "  ingest: VmRSS before $(mib "$ing_rss0") MiB, VmHWM $(mib "$ing_hwm") MiB, RssAnon after $(mib "$ing_anon") MiB"
echo "  host:   VmRSS before $(mib "$host_rss0") MiB, VmHWM $(mib "$host_hwm") MiB, RssAnon after $(mib "$host_anon") MiB"
echo "  (VmHWM over the whole run: ingest $(mib "$ing_hwm_all") MiB, host $(mib "$host_hwm_all") MiB; after the load: $(mib "$ing_hwm_load"), $(mib "$host_hwm_load") MiB)"
if [ "$perf" = 1 ]; then
  # (awk reads to the end: head would kill perf, and pipefail the script)
  pr() { # pr N OPTIONS...: the first N lines of perf report
    local n=$1
    shift
    perf report -i "$dir/perf-change.data" --stdio -g none "$@" 2>/dev/null |
      awk -v n="$n" '/%/ && !/^#/ && ++k <= n' || true
  }
  echo
  echo "perf record --call-graph dwarf, steps 2-3 ($dir/perf-change.data; ingest pid $ingest_pid, host pid $hp):"
  echo "  self, by process and symbol:"
  pr 15 --no-children --sort pid,sym
  echo "  with children, ingest process:"
  pr 15 --children --sort sym --pid "$ingest_pid"
fi
