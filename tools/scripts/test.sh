#!/usr/bin/env bash
# The whole test suite: install what is missing, check formatting, build
# twice with warnings as errors (release, and ASan+UBSan), run every test
# under ctest on the sanitizer build, then the SDK check on the release
# build (sdk-check.sh: install, build the examples against the install,
# run them against the installed daemon), then every fuzz target for 60 s
# (fuzz.sh), then the Debian packages built, installed, upgraded and purged
# for real (deb-check.sh; as root only).  The four steps always run; the
# exit status is that of the first that failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash tools/scripts/deps.sh
# The browser tests' driver (tests/web/package-lock.json pins it).
if [ ! -d tests/web/node_modules ]; then
  (cd tests/web && npm ci --no-audit --no-fund)
fi

jobs=$(nproc 2>/dev/null || echo 2)

echo "== formatting (clang-format, .clang-format)"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find core events storage plugins tools tests -name '*.[ch]')
clang-format --dry-run -Werror $files

echo "== release build (build/)"
# The benchmarks and the sample generator too, so that they keep building.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOVTRACK_WERROR=ON \
  -DPOVTRACK_BENCH=ON -DPOVTRACK_SAMPLE=ON >/dev/null
cmake --build build -j"$jobs"

echo "== sanitizer build (build-asan/)"
# povtrack-sample: tools_test_sample_gen runs it.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPOVTRACK_SANITIZE=ON \
  -DPOVTRACK_WERROR=ON -DPOVTRACK_SAMPLE=ON >/dev/null
cmake --build build-asan -j"$jobs"

echo "== tests (ctest on the ASan+UBSan build)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest_rc=0
(cd build-asan && ctest --output-on-failure --timeout 600 -j"$jobs") ||
  ctest_rc=$?
if [ -d build-asan/tests/web/screenshots ]; then
  echo "the dashboard's screenshots (integration_web): $root/build-asan/tests/web/screenshots/"
fi

echo "== SDK check (the release build installed, the examples built against it)"
sdk_rc=0
bash tools/scripts/sdk-check.sh build || sdk_rc=$?

echo "== fuzzing (libFuzzer on the clang ASan+UBSan build, build-fuzz/)"
fuzz_rc=0
bash tools/scripts/fuzz.sh 60 || fuzz_rc=$?

echo "== Debian packages (deb-check.sh: build, lintian, install, upgrade, purge)"
deb_rc=0
bash tools/scripts/deb-check.sh || deb_rc=$?

if [ "$ctest_rc" -ne 0 ]; then
  # Last, where a reader of the tail of the output sees it: which tests
  # failed and what their assertions and the sanitizers said.
  log=build-asan/Testing/Temporary/LastTest.log
  if [ -f "$log" ]; then
    echo "== what the failing tests said (from $log)" >&2
    grep -E '\*\*\*(Failed|Timeout)|^\[  FAILED  \] test|: error: |^ERROR: |SUMMARY: (Address|Undefined|Leak)Sanitizer' \
      "$log" | tail -40 >&2 || true
  fi
  echo "test.sh: ctest failed (exit $ctest_rc)" >&2
  exit "$ctest_rc"
fi
if [ "$sdk_rc" -ne 0 ]; then
  echo "test.sh: the SDK check failed (exit $sdk_rc)" >&2
  exit "$sdk_rc"
fi
if [ "$fuzz_rc" -ne 0 ]; then
  echo "test.sh: fuzzing failed (exit $fuzz_rc)" >&2
  exit "$fuzz_rc"
fi
if [ "$deb_rc" -ne 0 ]; then
  echo "test.sh: the Debian package check failed (exit $deb_rc)" >&2
  exit "$deb_rc"
fi
