#!/usr/bin/env bash
# The demo: install what is missing, build, start povtrackd on a fresh data
# directory, publish a sample Binh Thuan province (the real unit list plus
# generated households, statuses, assessments, the fund, relocations, loans,
# deadlines, production links, social assistance, the programmes' budget
# and commendations, 2021-2025), print the province summary and the 2025
# report (HTML and the donors' CSV in demo-data/ too), record the July 2025
# reorganisation (Binh Thuan into Lam Dong, communes merged) and print the
# years again on the new units (Lam Dong's fund, loans, relocations, alerts of
# 2021-2025 are Binh Thuan's) and the 2025 report on Lam Dong, which
# compares each merged commune with its predecessors, and stop the daemon.
# The daemon runs with CURVE and a publisher registry (keys made in
# demo-data/keys/), and the web gateway povtrack-gw runs beside it on
# 127.0.0.1 (port 8080, or a free one when taken) with a demo login that
# is printed; an agency's token publishes one donation with curl.
#
#   tools/scripts/demo.sh [--scale F] [--seed N] [--serve]
#
# --serve keeps povtrackd and the gateway running at the end until Ctrl-C
# (for the dashboard); without it everything stops, as in an unattended
# run.  The data stays in ./demo-data for exploring afterwards (see the
# end).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

scale=1.0
seed=2021
serve=0
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --serve) serve=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

units=${POVTRACK_UNITS:-$root/../shared/data/units-binh-thuan-2025-03-01.csv}
if [ ! -r "$units" ]; then
  echo "demo.sh: cannot read the unit list $units" >&2
  echo "  (the repository expects ../shared/ beside it; or set POVTRACK_UNITS)" >&2
  exit 1
fi

bash tools/scripts/deps.sh
echo "== building (release) in build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOVTRACK_TESTS=OFF \
  -DPOVTRACK_SAMPLE=ON >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

bin=$root/build/bin
data=$root/demo-data
rm -rf "$data"
mkdir -p "$data"
# ipc endpoints inside the demo directory: no clash with a daemon already
# listening on the default tcp ports.
export POVTRACK_INGEST="ipc://$data/ingest.sock"
export POVTRACK_QUERY="ipc://$data/query.sock"
export POVTRACK_ALERTS="ipc://$data/alerts.sock"

# Keys and registry: the daemon's key pair; demo-sample, the loader below
# (every right); demo, the dashboard's demo user (every right, so every
# page has data); demo-agency, an agency's API token publishing donations;
# metrics, the gateway's key for /metrics and /api/v1/health.
echo "== keys and the publisher registry in demo-data/ (CURVE on)"
keys=$data/keys
mkdir -m 700 "$keys"
for k in server demo-sample demo demo-agency metrics; do
  "$bin/povtrack" keygen "$keys/$k" >/dev/null
done
pub() { sed -n 's/^public-key = //p' "$keys/$1.pub"; }
cat >"$data/publishers.ini" <<INI
[demo-sample]
key = $(pub demo-sample)
publish = *
units = *
query = *
alerts = yes

[demo]
key = $(pub demo)
publish = *
units = *
query = *
alerts = yes

[demo-agency]
key = $(pub demo-agency)
publish = donation.* fund.*
units = 60 68
query = fund
alerts = yes

[metrics]
key = $(pub metrics)
query = deadlines
INI
cat >"$data/povtrackd.ini" <<INI
[security]
curve_key = keys/server.key
registry = publishers.ini
INI
export POVTRACK_SERVER_KEY="$keys/server.pub"
export POVTRACK_KEY="$keys/demo-sample.key"

echo "== starting povtrackd, all built-in plugins (log: demo-data/povtrackd.log)"
"$bin/povtrackd" -c "$data/povtrackd.ini" --data-dir "$data/db" \
  --ingest "$POVTRACK_INGEST" --query "$POVTRACK_QUERY" \
  --alerts "$POVTRACK_ALERTS" 2>"$data/povtrackd.log" &
daemon=$!
gw=
stop_all() {
  for p in $gw $daemon; do
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p"
      wait "$p" || true
    fi
  done
}
trap stop_all EXIT

# Handshake: wait until the daemon answers (or give up with its log).
if ! "$bin/povtrack" ping --wait --timeout 15000 >/dev/null; then
  echo "demo.sh: povtrackd did not answer; its log:" >&2
  cat "$data/povtrackd.log" >&2
  exit 1
fi

# The gateway: the demo user's password and the agency's token are made
# here and printed below; 8080 unless taken (POVTRACK_GW_PORT to choose).
password=$(/usr/bin/python3 -c 'import secrets; print(secrets.token_urlsafe(9))')
port=$(/usr/bin/python3 - "${POVTRACK_GW_PORT:-8080}" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
)
token_out=$("$bin/povtrack-gw" --new-token demo-agency)
token=$(sed -n 's/^token: //p' <<<"$token_out")
cat >"$data/gw.ini" <<INI
[gateway]
listen = 127.0.0.1:$port
daemon_ingest = $POVTRACK_INGEST
daemon_query = $POVTRACK_QUERY
daemon_alerts = $POVTRACK_ALERTS
server_key = keys/server.pub
metrics_key = keys/metrics.key

[user.demo]
password = $(printf '%s\n' "$password" | "$bin/povtrack-gw" --hash-password)
key = keys/demo.key
lang = vi

$(sed -n '/^\[token\./,$p' <<<"$token_out" | sed 's|^key = [^ ]*|key = keys/demo-agency.key|')
INI
echo "== starting povtrack-gw, the web gateway (log: demo-data/povtrack-gw.log)"
"$bin/povtrack-gw" -c "$data/gw.ini" 2>"$data/povtrack-gw.log" &
gw=$!
base=http://127.0.0.1:$port

echo "== publishing the sample province (seed $seed, scale $scale)"
"$bin/povtrack-sample" --units "$units" --seed "$seed" --scale "$scale" \
  | "$bin/povtrack" send --batch 1000

echo
"$bin/povtrack" summary --unit 60 --from-year 2021 --to-year 2025 --timeout 15000

echo
echo "== the 2025 report for the provincial standing committee (Markdown)"
"$bin/povtrack" report --unit 60 --year 2025 --format md --timeout 15000
"$bin/povtrack" report --unit 60 --year 2025 --format html --timeout 15000 \
  --output "$data/report-2025.html"
echo
echo "== the same report as one HTML file (opens offline): demo-data/report-2025.html"
"$bin/povtrack" donors --unit 60 --year 2025 --timeout 15000 \
  --output "$data/donors-2025.csv"
echo "== the donors of 2025 to acknowledge publicly, as CSV: demo-data/donors-2025.csv"

# On 1 July 2025 Binh Thuan (60) became part of Lam Dong (68), districts
# were abolished and communes merged.  The official mapping table is not in
# the repository: demo-reform-binh-thuan.csv has the real Phan Thiet merger
# (Phu Hai, Phu Thuy, Thanh Hai into Phu Thuy 22924) and merges the other
# communes of each district in threes, 121 into 40 (the real count was 45).
echo
echo "== the July 2025 reorganisation: Binh Thuan into Lam Dong (68)"
"$bin/povtrack" unitmap tools/scripts/demo-reform-binh-thuan.csv \
  | "$bin/povtrack" send
echo
echo "== the same years on the units of Lam Dong at the end of 2025"
echo "   (its fund, policy credit, relocation and alerts are Binh Thuan's"
echo "   above: an alert raised under an abolished district or a commune"
echo "   merged away counts where its households went; the plugins' timers"
echo "   may have raised a few more since)"
"$bin/povtrack" summary --unit 68 --from-year 2021 --to-year 2025 \
  --messages 0 --timeout 15000

# Each figure of the report is regrouped into the units of the end of
# 2025: a merged commune's reduction compares it with its predecessors
# together in 2024, not with the old ward whose code it kept, and Lam
# Dong's 2025 fund, budget, links, assistance, donors, commendations and
# alerts have what was recorded under Binh Thuan's units before July.
echo
echo "== the 2025 report on Lam Dong (68), like with like (Markdown)"
"$bin/povtrack" report --unit 68 --year 2025 --format md --timeout 15000


# Handshake with the gateway (started before the load, so up long since):
# its health answer says povtrackd is reachable through it.
echo
echo "== the web gateway"
if ! curl -sS --fail --retry 10 --retry-connrefused --retry-delay 1 \
    -o /dev/null "$base/api/v1/health"; then
  echo "demo.sh: povtrack-gw did not answer; its log:" >&2
  cat "$data/povtrack-gw.log" >&2
  exit 1
fi
echo "An agency publishes a donation with its token (README, Web gateway):"
curl -sS --fail-with-body -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' "$base/api/v1/events" --data-binary \
  '[{"v":1,"id":"demo-agency-1","type":"donation.received","at":"2025-06-10",
     "unit":"593","data":{"amount":25000000,"donor":"Công ty Demo",
     "donor_kind":"business","level":"district"}}]'
echo
cat <<MSG

  dashboard and API:  $base/   (API described at $base/api/v1/openapi.json)
  demo login:         user demo, password $password
  agency token:       $token
  metrics:            $base/metrics
MSG

if [ "$serve" = 1 ]; then
  echo
  echo "== serving until Ctrl-C (povtrackd and povtrack-gw keep running)"
  trap 'echo' INT
  wait "$gw" || true
fi

echo
echo "== stopping povtrack-gw and povtrackd"
trap - EXIT
status=0
kill -TERM "$gw" 2>/dev/null || true
if wait "$gw"; then
  echo "povtrack-gw stopped cleanly."
else
  echo "povtrack-gw exited with status $?; its log is demo-data/povtrack-gw.log" >&2
  status=1
fi
kill -TERM "$daemon" 2>/dev/null || true
if wait "$daemon"; then
  echo "povtrackd stopped cleanly."
else
  echo "povtrackd exited with status $?; its log is demo-data/povtrackd.log" >&2
  exit 1
fi
[ "$status" = 0 ] || exit 1
cat <<MSG

The data is in demo-data/.  To look around:
  build/bin/povtrackd -c demo-data/povtrackd.ini --data-dir demo-data/db \\
      --ingest $POVTRACK_INGEST --query $POVTRACK_QUERY \\
      --alerts $POVTRACK_ALERTS &
  build/bin/povtrack-gw -c demo-data/gw.ini &     # $base/, user demo
  export POVTRACK_INGEST=$POVTRACK_INGEST POVTRACK_QUERY=$POVTRACK_QUERY POVTRACK_ALERTS=$POVTRACK_ALERTS
  export POVTRACK_SERVER_KEY=demo-data/keys/server.pub POVTRACK_KEY=demo-data/keys/demo.key
  build/bin/povtrack query poverty unit=593 year=2024
  build/bin/povtrack alerts
  build/bin/povtrack report --unit 60 --year 2024 --lang en --format csv
  build/bin/povtrack query poverty unit=68 year=2023 as_of=1767200399
  build/bin/povtrack query fund unit=68 year=2024 as_of=1767200399
  build/bin/povtrack query credit unit=68 as_of=1767200399
  build/bin/povtrack query budget unit=68 year=2024 as_of=1767200399
  build/bin/povtrack donors --unit 68 --year 2025
  build/bin/povtrack report --unit 68 --year 2025 --lang en --format csv
MSG
