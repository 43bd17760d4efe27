#!/usr/bin/env bash
# Compare povtrackd's durable ingest with Redis Streams, PostgreSQL and NATS
# JetStream, and with the ceilings under them (raw LMDB appends, the disk's
# fdatasync rate), in one run on this machine, with the same events, the
# same number of publishers (connections), the same events in flight per
# publisher, and the same event count.  Prints one Markdown table and the
# ratios of povtrackd to each peer.
#
#   tools/bench/run-peers.sh [--repeat N] [--quick] [--wait-idle] [--perf DIR]
#                            [--out FILE]
#
#   --repeat N   run every measurement N times, round robin, and report
#                the median run (by events/s) with the range [3]
#   --quick      a tenth of the events (a smoke test of the harness)
#   --wait-idle  wait (up to 20 min) for a 1-minute load below 0.7 first
#   --perf DIR   record povtrackd's ingest process with perf record -g
#                during each of its runs (DIR/povtrackd-<config>-<run>.data)
#   --out FILE   also write the table (Markdown) to FILE
#
# It installs what is missing (apt-get), builds a Release build in
# build-bench/, starts every server itself on spare loopback ports in a
# directory /tmp/bench-peers.XXXXXX, and stops them and removes the
# directory on exit, on failure and on Ctrl-C.  System services the
# packages may have installed are left alone (Debian's policy-rc.d usually
# keeps them from starting in containers; if they run, they are idle).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-bench
bin=$build/bin

quick=0 wait_idle=0 perfdir="" out="" repeat=3
while [ $# -gt 0 ]; do
  case "$1" in
  --quick) quick=1 ;;
  --repeat)
    repeat=$2
    shift
    [[ "$repeat" =~ ^[1-9]$ ]] || {
      echo "run-peers.sh: --repeat: 1..9" >&2
      exit 2
    }
    ;;
  --wait-idle) wait_idle=1 ;;
  --perf) perfdir=$(mkdir -p "$2" && cd "$2" && pwd); shift ;;
  --out) out=$2; shift ;;
  -h | --help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 0
    ;;
  *) echo "run-peers.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# The configurations: name, publishers, events per request, window,
# events.  Every system runs each of them; PostgreSQL's transaction holds
# the request's rows (1, 100 or 1000).  8x1w64 is publishers that send
# events as they happen: one event per request, 64 requests in flight each.
configs=(
  "8x1w64 8 1 64 100000"
  "8x100 8 100 2 200000"
  "8x1000 8 1000 2 400000"
  "1x1 1 1 1 3000"
)
duration=60 # seconds: a bound; every run is sized to end well before it

# ---------------------------------------------------------------- install
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
bash "$root/tools/scripts/deps.sh"
need=(redis-server postgresql nats-server libhiredis-dev libpq-dev)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "run-peers.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -z "$perfdir" ] || command -v perf >/dev/null || {
  echo "run-peers.sh: --perf needs perf (apt-get install linux-perf)" >&2
  exit 2
}

# ------------------------------------------------------------------ build
echo "== build (Release, build-bench/)" >&2
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DPOVTRACK_TESTS=OFF -DPOVTRACK_BENCH=ON >/dev/null
# Only what this comparison runs: the daemon, its eleven default plugins,
# the CLI and the load generators (a broken unrelated tool must not stop
# it).
cmake --build "$build" -j"$(nproc)" --target povtrackd povtrack \
  povtrack-bench povtrack-peerbench poverty fund standard relocation credit \
  deadlines production protection budget donors commendations >/dev/null
for exe in povtrackd povtrack povtrack-bench povtrack-peerbench; do
  [ -x "$bin/$exe" ] || {
    echo "run-peers.sh: $bin/$exe was not built" >&2
    exit 1
  }
done

# ------------------------------------------------------------ wait for idle
load1() { cut -d' ' -f1 /proc/loadavg; }
if [ "$wait_idle" -eq 1 ]; then
  for _ in $(seq 1 20); do
    awk -v l="$(load1)" 'BEGIN { exit !(l <= 0.7) }' && break
    echo "run-peers.sh: load $(load1), waiting 60 s for the machine to idle" >&2
    sleep 60
  done
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# -------------------------------------------------------- servers, cleanup
work=$(mktemp -d /tmp/bench-peers.XXXXXX)
chmod 755 "$work" # PostgreSQL runs as its own user below
pids=()           # servers started here, stopped in reverse order
pt_pid=""         # the povtrackd of the configuration being measured
perf_pid=""       # perf record attached to it (--perf)
pg_started=""
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
pgrun=()
[ "$(id -u)" -ne 0 ] || pgrun=(runuser -u postgres --)

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$perf_pid" ] && kill -0 "$perf_pid" 2>/dev/null; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
  fi
  if [ -n "$pt_pid" ] && kill -0 "$pt_pid" 2>/dev/null; then
    kill -TERM "$pt_pid" 2>/dev/null || true
    wait "$pt_pid" 2>/dev/null || true
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    if kill -0 "${pids[i]}" 2>/dev/null; then
      kill -TERM "${pids[i]}" 2>/dev/null || true
      wait "${pids[i]}" 2>/dev/null || true
    fi
  done
  if [ -n "$pg_started" ]; then
    "${pgrun[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -m fast -w stop \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

used_ports=" "
# Below the kernel's ephemeral range, where the clients' own connections
# take their ports: a port that refuses a connection there may still be
# one end of another connection, and a server could not bind it.
eph=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$eph" -gt 21000 ] 2>/dev/null || eph=32768
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % (eph - 20000)))
    case "$used_ports" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports="$used_ports$p "
      echo "$p"
      return 0
    fi
  done
  echo "run-peers.sh: no free port" >&2
  return 1
}

wait_port() { # wait_port PORT NAME LOG
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "run-peers.sh: $2 did not listen on port $1; its log:" >&2
  cat "$3" >&2
  return 1
}

echo "== servers (in $work)" >&2
redis_port=$(free_port)
mkdir "$work/redis"
# Durable as povtrackd: the AOF is written and fsynced before the answers
# of each event-loop pass.  No RDB snapshots, no AOF rewrites mid-run (both
# are background forks that would bill the measurement for maintenance).
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" \
  --appendonly yes --appendfsync always --save "" \
  --auto-aof-rewrite-percentage 0 --daemonize no \
  >"$work/redis/log" 2>&1 &
pids+=($!)
wait_port "$redis_port" redis-server "$work/redis/log"

nats_port=$(free_port)
mkdir -p "$work/nats/store"
cat >"$work/nats/nats.conf" <<EOF
listen: 127.0.0.1:$nats_port
jetstream {
  store_dir: "$work/nats/store"
  max_file_store: 8G
}
EOF
nats-server -c "$work/nats/nats.conf" >"$work/nats/log" 2>&1 &
pids+=($!)
wait_port "$nats_port" nats-server "$work/nats/log"

pg_port=$(free_port)
mkdir "$work/pg"
[ "$(id -u)" -ne 0 ] || chown postgres "$work/pg"
"${pgrun[@]}" "$pgbin/initdb" -D "$work/pg/data" -U postgres --auth=trust \
  -E UTF8 --no-locale >"$work/pg/initdb.log" 2>&1 || {
  cat "$work/pg/initdb.log" >&2
  exit 1
}
# fsync, synchronous_commit and full_page_writes are the defaults, spelled
# out: a commit answers after its WAL is flushed.
pg_started=1
"${pgrun[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=on \
-c synchronous_commit=on -c full_page_writes=on" start >/dev/null || {
  cat "$work/pg/log" >&2
  exit 1
}
pg_conn="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"

# ------------------------------------------------------------------- runs
results=$work/results.jsonl
failed=0
mkdir "$work/local"

# record SYSTEM CONFIG DURABILITY -- command...: run one measurement and
# keep its JSON line with the labels.
record() {
  local system=$1 config=$2 durability=$3 line rc=0
  shift 4
  # Let the previous run's dirty pages reach the disk first, so that no
  # system pays for another's writeback.
  sync
  sleep 1
  line=$("$@" --json 2>"$work/stderr") || rc=$?
  if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
    echo "run-peers.sh: $system $config failed (exit $rc):" >&2
    cat "$work/stderr" >&2
    failed=1
    line='{"events_per_s":0,"latency_p99_ms":0,"latency_p50_ms":0,"events_acked":0,"failed":1}'
  fi
  echo "   $system $config: $(echo "$line" | sed 's/.*"events_per_s":\([0-9]*\).*"latency_p99_ms":\([0-9.]*\).*/\1 events\/s, p99 \2 ms/')" >&2
  printf '{"system":"%s","config":"%s","durability":"%s",%s\n' \
    "$system" "$config" "$durability" "${line#\{}" >>"$results"
}

povtrackd_run() { # povtrackd_run CONFIG REP bench-args...
  local cfg=$1 dir=$work/pt-$1-$2 ip qp ap rc=0 r=$2
  shift 2
  ip=$(free_port) qp=$(free_port) ap=$(free_port)
  mkdir "$dir"
  "$bin/povtrackd" --data-dir "$dir/data" --ingest "tcp://127.0.0.1:$ip" \
    --query "tcp://127.0.0.1:$qp" --alerts "tcp://127.0.0.1:$ap" \
    --log-level warn 2>"$dir/log" &
  pt_pid=$!
  if ! "$bin/povtrack" ping --wait --query "tcp://127.0.0.1:$qp" --timeout 15000 \
    >/dev/null; then
    echo "run-peers.sh: povtrackd did not answer; its log:" >&2
    cat "$dir/log" >&2
    exit 1
  fi
  if [ -n "$perfdir" ]; then
    perf record -g -o "$perfdir/povtrackd-$cfg-$r.data" -p "$pt_pid" \
      >"$dir/perf.log" 2>&1 &
    perf_pid=$!
    sleep 1
  fi
  record povtrackd "$cfg" "fdatasync + O_DSYNC meta per group commit" -- \
    "$bin/povtrack-bench" --ingest "tcp://127.0.0.1:$ip" "$@"
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=""
  fi
  kill -TERM "$pt_pid"
  wait "$pt_pid" || rc=$?
  pt_pid=""
  [ "$rc" -eq 0 ] || echo "run-peers.sh: povtrackd exited $rc" >&2
}

for c in "${configs[@]}"; do
  read -r name pubs batch window events <<<"$c"
  [ "$quick" -eq 0 ] || events=$((events / 10))
  args=(--publishers "$pubs" --batch "$batch" --window "$window"
    --events "$events" --duration "$duration" --timeout 60000)
  tag=c${name/x/_}
  for r in $(seq 1 "$repeat"); do
    echo "== $name ($r/$repeat): $pubs publishers x $batch events per request, window $window, $events events" >&2
    povtrackd_run "$name" "$r" "${args[@]}"
    record redis "$name" "AOF fsync before answering (appendfsync always)" -- \
      "$bin/povtrack-peerbench" --target redis \
      --endpoint "127.0.0.1:$redis_port" --name "$tag" "${args[@]}"
    record postgres "$name" "WAL flush per commit (synchronous_commit on)" -- \
      "$bin/povtrack-peerbench" --target postgres --endpoint "$pg_conn" \
      --name "$tag" "${args[@]}"
    record nats "$name" "none: PubAck after write(), no fsync (2.9 syncs every 2 min)" -- \
      "$bin/povtrack-peerbench" --target nats \
      --endpoint "127.0.0.1:$nats_port" --name "$tag" "${args[@]}"
    record lmdb "$name" "fdatasync + O_DSYNC meta per commit" -- \
      "$bin/povtrack-peerbench" --target lmdb --endpoint "$work/local" \
      --name "lmdb_$tag" "${args[@]}"
  done
done
events=10000
[ "$quick" -eq 0 ] || events=1000
for r in $(seq 1 "$repeat"); do
  echo "== fdatasync ($r/$repeat): 1 writer, 4 KiB per sync, $events syncs" >&2
  record fsync "1x1" "fdatasync per 4 KiB write" -- \
    "$bin/povtrack-peerbench" --target fsync --endpoint "$work/local" \
    --name fsync_file --publishers 1 --batch 1 --window 1 --events "$events" \
    --duration "$duration"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report
v_redis=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
v_pg=$("$pgbin/postgres" --version | awk '{ print $3 }')
v_nats=$(nats-server --version | sed 's/.*v//')
v_lmdb=$(dpkg-query -W -f='${Version}' liblmdb0 2>/dev/null | sed 's/-.*//')
fs=$(df -T "$work" | awk 'NR == 2 { print $2 " on " $1 }')
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)

report() {
  echo "Machine: $(nproc) CPUs ($cpu), $(($(awk '/MemTotal/ { print $2 }' /proc/meminfo) / 1048576)) GiB, data on $fs; load average $load_start at the start, $load_end at the end."
  echo "Versions: povtrackd $("$bin/povtrackd" --version 2>/dev/null | awk '{ print $2 }') (Release), Redis $v_redis, PostgreSQL $v_pg, NATS $v_nats, LMDB $v_lmdb."
  echo
  awk -v redis="$v_redis" -v pg="$v_pg" -v nats="$v_nats" -v lmdb="$v_lmdb" '
    function get(line, key,   v) {
      if (!match(line, "\"" key "\":(\"[^\"]*\"|[^,}]*)")) return ""
      v = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
      gsub(/"/, "", v)
      return v
    }
    function commas(n,   s, r) {
      s = sprintf("%d", n); r = ""
      while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
      return s r
    }
    {
      n++; sys[n] = get($0, "system"); cfg[n] = get($0, "config")
      dur[n] = get($0, "durability"); eps[n] = get($0, "events_per_s") + 0
      p99[n] = get($0, "latency_p99_ms") + 0; p50[n] = get($0, "latency_p50_ms") + 0
      acked[n] = get($0, "events_acked") + 0; fail[n] = get($0, "failed")
      pubs[n] = get($0, "publishers"); batch[n] = get($0, "batch")
      win[n] = get($0, "window"); planned[n] = get($0, "planned_requests")
      reqs[n] = get($0, "requests")
      key = sys[n] "/" cfg[n]
      if (!(key in cnt)) keys[++nkeys] = key
      member[key, ++cnt[key]] = n
      if (fail[n] != "") bad[key] = 1
    }
    END {
      # The median run of each system and configuration, by events/s.
      for (k = 1; k <= nkeys; k++) {
        key = keys[k]; c = cnt[key]
        for (i = 1; i <= c; i++) s[i] = member[key, i]
        for (i = 2; i <= c; i++)
          for (j = i; j > 1 && eps[s[j]] < eps[s[j - 1]]; j--) { t = s[j]; s[j] = s[j - 1]; s[j - 1] = t }
        m = s[int((c + 1) / 2)]; med[key] = m; lo[key] = eps[s[1]]; hi[key] = eps[s[c]]
        if (sys[m] == "povtrackd") { pt_eps[cfg[m]] = eps[m]; pt_p99[cfg[m]] = p99[m] }
        if (sys[m] == "fsync") { fs_p50 = p50[m]; fs_p99 = p99[m] }
        peer_eps[key] = bad[key] ? 0 : eps[m]
      }
      for (c in pt_eps) if (bad["povtrackd/" c]) pt_eps[c] = 0
      label["povtrackd"] = "povtrackd (default config)"
      label["redis"] = "Redis " redis " Streams (XADD)"
      label["postgres"] = "PostgreSQL " pg " (INSERT)"
      label["nats"] = "NATS " nats " JetStream (file)"
      label["lmdb"] = "ceiling: raw LMDB " lmdb " MDB_APPEND"
      label["fsync"] = "ceiling: disk fdatasync"
      print "| system | configuration | durability | events/s, median (range) | p99 ack |"
      print "|---|---|---|---:|---:|"
      for (k = 1; k <= nkeys; k++) {
        key = keys[k]; i = med[key]
        if (sys[i] == "fsync")
          conf = "1 writer, 4 KiB write + fdatasync, " commas(acked[i]) " syncs"
        else if (sys[i] == "postgres")
          conf = pubs[i] " conn x " batch[i] (batch[i] == 1 ? " row" : " rows") " per transaction, " win[i] " in flight, " commas(acked[i]) " events"
        else if (sys[i] == "lmdb")
          conf = pubs[i] (pubs[i] == 1 ? " writer x " : " writers x ") batch[i] (batch[i] == 1 ? " put" : " puts") " per commit, " commas(acked[i]) " events"
        else if (sys[i] == "redis")
          conf = pubs[i] " conn x " win[i] "x" batch[i] " XADD pipelined, " commas(acked[i]) " events"
        else if (sys[i] == "nats")
          conf = pubs[i] " conn x " win[i] "x" batch[i] " publishes in flight, " commas(acked[i]) " events"
        else
          conf = pubs[i] (pubs[i] == 1 ? " publisher x " : " publishers x ") batch[i] (batch[i] == 1 ? " event" : " events") " per request, window " win[i] ", " commas(acked[i]) " events"
        if (reqs[i] + 0 < planned[i] + 0) conf = conf " (cut by the time bound)"
        range = cnt[key] > 1 ? sprintf(" (%s to %s)", commas(lo[key]), commas(hi[key])) : ""
        if (bad[key]) printf "| %s | %s | %s | failed | |\n", label[sys[i]], cfg[i], dur[i]
        else printf "| %s | %s | %s | %s%s | %.2f ms |\n", label[sys[i]], conf, dur[i], commas(eps[i]), range, p99[i]
      }
      print ""
      print "Ratios, povtrackd / peer (median events/s, same configuration):"
      print ""
      print "| configuration | vs Redis | vs PostgreSQL | vs NATS (not fsynced) | vs raw LMDB |"
      print "|---|---:|---:|---:|---:|"
      split("8x1w64 8x100 8x1000 1x1", order, " ")
      for (k = 1; k <= 4; k++) {
        c = order[k]; line = "| " c
        split("redis postgres nats lmdb", ps, " ")
        for (q = 1; q <= 4; q++) {
          e = peer_eps[ps[q] "/" c]
          line = line (e > 0 ? sprintf(" | %.2f", pt_eps[c] / e) : " | -")
        }
        print line " |"
      }
      print ""
      print "Targets:"
      for (k = 1; k <= 4; k++) {
        c = order[k]; pt = pt_eps[c]
        rd = peer_eps["redis/" c]; pg = peer_eps["postgres/" c]; nt = peer_eps["nats/" c]
        if (k <= 3 && rd > 0) printf "- %s: povtrackd / Redis = %.2f (target >= 2): %s\n", c, pt / rd, ((pt / rd >= 2) ? "met" : "MISSED")
        if (pg > 0) printf "- %s: povtrackd / PostgreSQL = %.2f (target > 1): %s\n", c, pt / pg, ((pt > pg) ? "met" : "MISSED")
        if (nt > 0) printf "- %s: povtrackd / NATS JetStream = %.2f (target > 1): %s\n", c, pt / nt, ((pt > nt) ? "met" : "MISSED")
      }
      if (fs_p99 > 0) printf "- 1x1: povtrackd p99 %.2f ms / one 4 KiB fdatasync p99 (%.2f ms; p50 %.2f ms) = %.2f (target <= 2): %s\n", pt_p99["1x1"], fs_p99, fs_p50, pt_p99["1x1"] / fs_p99, ((pt_p99["1x1"] / fs_p99 <= 2) ? "met" : "MISSED")
    }' "$results"
}
echo
report | tee ${out:+"$out"}
exit "$failed"
