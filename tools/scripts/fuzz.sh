#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz with clang (ASan+UBSan) in
# build-fuzz/ and run each for a bounded time, two at a time.
#
#   tools/scripts/fuzz.sh [SECONDS]     (default 60 per target)
#
# Each target starts from a scratch corpus (build-fuzz/fuzz/corpus/TARGET,
# where new inputs go, so nothing is written into the repository) and the
# committed seeds (tests/fuzz/corpus/TARGET).  Exit status 1 when any target
# finds a crash, a leak, a timeout (-timeout=10 per input) or an OOM
# (-rss_limit_mb=2048), naming the target and the saved input.  A summary
# table gives the executions each target reached; it is also kept in
# build-fuzz/fuzz/summary.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS]   (seconds per target, default 60)" >&2
  exit 2
fi
bash tools/scripts/deps.sh

targets=(fuzz_event fuzz_query fuzz_config fuzz_registry fuzz_csv fuzz_client)
build=build-fuzz
out=$build/fuzz
jobs_max=2

echo "== fuzz build ($build/, clang, ASan+UBSan+libFuzzer)"
CC=clang cmake -S . -B "$build" -DPOVTRACK_FUZZ=ON -DPOVTRACK_TESTS=OFF \
  -DPOVTRACK_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$jobs_max" --target fuzz

rm -rf "$out/logs" "$out/tmp"
mkdir -p "$out/logs" "$out/tmp"
# Leaks are found by LeakSanitizer (on by default with ASan; said here so an
# inherited ASAN_OPTIONS cannot turn it off).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# fuzz_query's data directory: here, so a crashed run leaves nothing in /tmp.
export TMPDIR=$root/$out/tmp

run_target() {
  local t=$1
  local log=$out/logs/$t.log
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  local rc=0
  # libFuzzer stops itself after -max_total_time; the outer timeout only
  # catches a target that hangs where libFuzzer's per-input alarm cannot
  # (startup, exit).
  timeout --kill-after=30 $((seconds + 300)) \
    "$build/bin/$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$t/" \
    "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  echo "$rc" >"$out/logs/$t.rc"
}

echo "== fuzzing: ${#targets[@]} targets, $seconds s each, $jobs_max at a time"
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
    wait -n || true
  done
  echo "   $t"
  run_target "$t" &
done
wait || true
rm -rf "$out/tmp"

# ---- summary ----
failed=0
summary=$out/summary.txt
{
  printf '%-14s %-10s %12s %9s  %s\n' target result executions 'exec/s' \
    'saved input'
  for t in "${targets[@]}"; do
    log=$out/logs/$t.log
    rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo 1)
    # Executions: libFuzzer's final stats, else "Done N runs", else the last
    # status line (a run that crashed prints neither).
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' \
      "$log" | tail -n1)
    [ -n "$runs" ] ||
      runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n1)
    [ -n "$runs" ] ||
      runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' \
      "$log" | tail -n1)
    saved=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
      tail -n1)
    result=ok
    if [ "$rc" != 0 ] || [ -n "$saved" ]; then
      failed=1
      if grep -q 'ERROR: LeakSanitizer' "$log"; then
        result=leak
      elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then
        result=timeout
      elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then
        result=oom
      elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        result=hang
      else
        result=crash
      fi
    fi
    printf '%-14s %-10s %12s %9s  %s\n' "$t" "$result" "${runs:-?}" \
      "${speed:-?}" "${saved:--}"
  done
} >"$summary"

for t in "${targets[@]}"; do
  rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo 1)
  if [ "$rc" != 0 ] || grep -q 'Test unit written to' "$out/logs/$t.log"; then
    echo "== $t FAILED (exit $rc); the end of $out/logs/$t.log:" >&2
    grep -v '^INFO:' "$out/logs/$t.log" | tail -n 40 >&2
  fi
done
echo "== fuzzing summary ($seconds s per target; logs in $out/logs/)"
cat "$summary"
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: FAILED: a target found a crash, leak, timeout or OOM;" \
    "reproduce with $build/bin/TARGET SAVED-INPUT" >&2
  exit 1
fi
