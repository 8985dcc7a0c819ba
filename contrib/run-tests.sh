#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run-tests.sh - everything CI runs (README command 2), as root:
#   1. build-ci: -Dwerror=true, every test suite;
#   2. build-asan: ASan+UBSan, the unit and integration suites.
# Ends with one line "N passed, N failed, N skipped" summed over both builds
# and exits non-zero if anything failed (a build that fails counts as one).
set -euo pipefail

cd "$(dirname "$0")/.."
exec </dev/null	# CI has no stdin; nothing here may wait for input

# Sanitizer settings. Unit tests are short-lived: check leaks there. FUSE
# daemons in the integration tests exit when unmounted with their tables
# still allocated by design, so leak checking is off for them; every other
# report halts the daemon, goes to its log, and lib.sh fails the test.
ASAN_UNIT="detect_leaks=1:halt_on_error=1:abort_on_error=0:print_summary=1:detect_stack_use_after_return=1"
ASAN_INTEGRATION="detect_leaks=0:halt_on_error=1:abort_on_error=0:print_summary=1:disable_coredump=1"
UBSAN_ALL="halt_on_error=1:abort_on_error=0:print_stacktrace=1:print_summary=1"

LOGS=()		# testlog json files to sum at the end
BUILD_FAILURES=0

section()
{
	echo
	echo "=== $* ==="
}

# configure DIR OPTIONS...: fresh setup, or reconfigure an existing dir.
configure()
{
	local dir=$1
	shift

	if [[ -f "$dir/meson-private/coredata.dat" ]]; then
		meson setup --reconfigure "$dir" "$@"
	else
		meson setup "$dir" "$@"
	fi
}

# build DIR OPTIONS...: configure and compile; a failure is counted, not fatal,
# so the other build still runs and the summary line is still printed.
build()
{
	local dir=$1

	section "build $dir"
	if configure "$@" && ninja -C "$dir"; then
		return 0
	fi
	echo "run-tests: build in '$dir' failed" >&2
	BUILD_FAILURES=$((BUILD_FAILURES + 1))
	return 1
}

# run_tests DIR LOGBASE MESON_TEST_ARGS...: results go to
# DIR/meson-logs/LOGBASE.json; a failing test does not stop the script.
run_tests()
{
	local dir=$1 logbase=$2
	shift 2

	section "meson test -C $dir $*"
	rm -f "$dir/meson-logs/$logbase.json"
	meson test -C "$dir" --no-rebuild --print-errorlogs --logbase "$logbase" "$@" || true
	LOGS+=("$dir/meson-logs/$logbase.json")
}

summarize()
{
	/usr/bin/env python3 - "$BUILD_FAILURES" "${LOGS[@]}" <<'PY'
import json, os, sys

passed, failed, skipped = 0, int(sys.argv[1]), 0
for path in sys.argv[2:]:
    if not os.path.exists(path):	# no test matched the suite
        continue
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:	# FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS
                failed += 1
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
sys.exit(1 if failed else 0)
PY
}

main()
{
	section "dependencies"
	bash contrib/install-deps.sh

	if build build-ci -Dwerror=true -Dtests=enabled; then
		# absorb-open: tests of unfinished work (tests/absorb/meson.build)
		echo "not run in CI: suite absorb-open ($(meson test -C build-ci --list --suite absorb-open 2>/dev/null | tr '\n' ' '))"
		run_tests build-ci testlog --no-suite absorb-open
	fi

	if build build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dtests=enabled -Dbuildtype=debug; then
		ASAN_OPTIONS=$ASAN_UNIT UBSAN_OPTIONS=$UBSAN_ALL \
			run_tests build-asan testlog-unit --suite unit
		ASAN_OPTIONS=$ASAN_INTEGRATION UBSAN_OPTIONS=$UBSAN_ALL \
			run_tests build-asan testlog-integration --suite integration --timeout-multiplier 2
	fi

	section "summary"
	summarize
}

main "$@"
