#!/usr/bin/env bash
# make sanitize (also part of make soak): the whole test suite, and every capdeck and capdeck-bench
# process the integration tests start, under AddressSanitizer and then ThreadSanitizer. Prints a
# Markdown report (also written to .build/sanitize-report.md) and exits non-zero if a run failed
# or any sanitizer report was written.
#
# Each sanitizer has its own scratch directory (.build-asan, .build-tsan), so the normal .build is
# untouched. The products are built by the same `swift build`, so the capdeck binary the tests run
# (CAPDECK_EXECUTABLE, see Tests/IntegrationTests/Support/Capdeck.swift) is the sanitized one.
# The allocation counter is compiled out (-DCAPDECK_NO_ALLOC_COUNTER): its malloc interposer and
# the sanitizers' own can't both own malloc; the allocation tests skip and say why.
#
# Reports from every process (the test runner and each child, which inherits the options) go to
# files under the log directory (log_path), so a report from a child whose stderr a test ignores
# is still counted. SANITIZERS="address" (or "thread") runs one; SANITIZE_FILTER passes --filter.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SWIFT=${SWIFT:-swift}
SANITIZERS=${SANITIZERS:-address thread}
REPORT=$ROOT/.build/sanitize-report.md
mkdir -p "$ROOT/.build"
: > "$REPORT"
status=0

for san in $SANITIZERS; do
  case $san in
    address) short=asan; NAME=AddressSanitizer ;;
    thread)  short=tsan; NAME=ThreadSanitizer ;;
    *) echo "sanitize.sh: unknown sanitizer $san" >&2; exit 64 ;;
  esac
  scratch=$ROOT/.build-$short
  logs=$scratch/sanitizer-logs
  rm -rf "$logs"; mkdir -p "$logs"

  t0=$(date +%s)
  if ! $SWIFT build --build-tests --scratch-path "$scratch" -Xswiftc -sanitize=$san \
       -Xcc -DCAPDECK_NO_ALLOC_COUNTER > "$logs/build.log" 2>&1; then
    tail -30 "$logs/build.log" >&2
    echo "- $NAME: the build FAILED (see $logs/build.log)" | tee -a "$REPORT"
    status=1; continue
  fi
  t1=$(date +%s)
  export CAPDECK_EXECUTABLE=$scratch/debug/capdeck
  # The binaries the tests start must be the sanitized ones. (grep -c, not -q: with pipefail,
  # an early grep exit would fail nm with SIGPIPE.)
  if [ "$(nm "$CAPDECK_EXECUTABLE" 2>/dev/null | grep -c "__${short}_init")" -eq 0 ]; then
    echo "- $NAME: $CAPDECK_EXECUTABLE is not instrumented" | tee -a "$REPORT"
    status=1; continue
  fi

  common="log_path=$logs/report:log_exe_name=1"
  # detect_leaks=0: LeakSanitizer is a separate tool (not asked for here); the Swift runtime's and
  # libdispatch's process-lifetime caches make its exit-time report noise.
  export ASAN_OPTIONS="$common:detect_leaks=0:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0"
  export TSAN_OPTIONS="$common:halt_on_error=0:second_deadlock_stack=1:suppressions=$ROOT/scripts/tsan.supp"

  preload=""
  if [ "$san" = thread ]; then
    # Swift's Mutex hands a contended lock over inside the uninstrumented libswiftSynchronization
    # (futex PI), invisible to ThreadSanitizer: scripts/tsan/mutex-annotations.c says so, and why.
    preload=$scratch/libcapdeck-tsan-mutex.so
    if ! ${CC:-clang} -shared -fPIC -O1 -Wall -o "$preload" scripts/tsan/mutex-annotations.c -ldl > "$logs/preload.log" 2>&1; then
      cat "$logs/preload.log" >&2
      echo "- $NAME: building scripts/tsan/mutex-annotations.c FAILED" | tee -a "$REPORT"
      status=1; continue
    fi
  fi

  # A ThreadSanitizer process takes up to about a second longer to exit after closing its
  # device; the tests whose wall-clock tolerances include a process's exit add this.
  if [ "$san" = thread ]; then export CAPDECK_TEST_TIMING_SLACK=1.0; else unset CAPDECK_TEST_TIMING_SLACK; fi

  filter=()
  [ -n "${SANITIZE_FILTER:-}" ] && filter=(--filter "$SANITIZE_FILTER")
  LD_PRELOAD=$preload $SWIFT test --skip-build --scratch-path "$scratch" "${filter[@]}" > "$logs/test.log" 2>&1
  rc=$?
  t2=$(date +%s)

  # swift-testing's summary line, and XCTest's, if any.
  summary=$(grep -E "Test run with [0-9]+ tests?" "$logs/test.log" | tail -1 | sed -E 's/^[^A-Za-z]*//')
  failed=$(grep -cE "^. Test .* (failed|recorded an issue)" "$logs/test.log" || true)
  reports=$(cat "$logs"/report* 2>/dev/null | grep -cE "ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|SUMMARY: UndefinedBehaviorSanitizer" || true)
  # (A process's log file is created at its first report: each file is one process that reported.)
  processes=$(ls "$logs"/report* 2>/dev/null | wc -l)
  {
    echo "- $NAME: ${summary:-no swift-testing summary (exit $rc)}; test exit $rc; $failed failing test lines;" \
         "**$reports sanitizer reports** (from $processes processes); build $((t1 - t0)) s, tests $((t2 - t1)) s"
    if [ "$reports" -gt 0 ]; then
      cat "$logs"/report* | grep -E "^SUMMARY|ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer" | sort | uniq -c | sort -rn | head -20 | sed 's/^/    /'
      echo "    (full reports in $logs)"
    fi
  } | tee -a "$REPORT"
  if [ "$rc" -ne 0 ] || [ "$reports" -gt 0 ]; then status=1; fi
done
exit $status
