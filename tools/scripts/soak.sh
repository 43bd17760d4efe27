#!/usr/bin/env bash
# Soak: the crash test (tests/integration/test_crash.c) scaled up.  Its
# three publishers send as fast as acks come back, resending unacked
# batches with the same ids, while ingest or (one time in three) the plugin
# host is SIGKILLed at random points, N kills in all; then every acked id
# must be stored exactly once, sequences gapless, the fund count exact,
# every plugin equal to a rebuild from the log, and povtrack verify pass.
# Not part of ctest: it runs the release build (build/), minutes long.
#
#   tools/scripts/soak.sh [--kills N] [--max-minutes M] [--seed S]
#
# --kills N        kills in all (default 1000)
# --max-minutes M  bound on the killing (default 120); reaching it before N
#                  kills fails the soak, after the checks have run
# --seed S         the random choices of a run to repeat (default: the time;
#                  the run prints it)
# The daemons' log goes to a file, named at the start.  Exit status: the
# test's (0 when every check passed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

kills=1000
minutes=120
seed=
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2 ;;
    --max-minutes) minutes=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$kills$minutes" in
  *[!0-9]*|'') echo "soak.sh: --kills and --max-minutes take whole numbers" >&2
               exit 2 ;;
esac

bash tools/scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
echo "== release build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" --target test_crash >/dev/null

log=$(mktemp "${TMPDIR:-/tmp}/povtrack-soak-XXXXXX.log")
echo "== soak: $kills kills within $minutes min; daemon log: $log"
start=$(date +%s)
rc=0
POVTRACK_SOAK_KILLS=$kills POVTRACK_SOAK_SECONDS=$((minutes * 60)) \
  POVTRACK_SOAK_SEED=$seed build/bin/test_crash 2>"$log" || rc=$?
echo "== soak: exit $rc after $(( $(date +%s) - start )) s"
if [ "$rc" -ne 0 ]; then
  grep -E 'ERROR|FAIL|error' "$log" | tail -20 >&2 || true
fi
exit "$rc"
