#!/bin/sh
# What `make check` runs once the tests are built (make tests-build):
#   1. every unit test binary ($B/tests/unit/test-*)
#   2. the integration suite (pytest + slixmpp against a real emberd)
#   3. the same two against an AddressSanitizer + UBSan build (build-asan),
#      the integration suite there on PostgreSQL (storage_pgsql, a server
#      the tests start), plus the storage-heavy files on SQLite again so
#      that storage_sqlite keeps its sanitizer run
#   4. each libFuzzer target for $FUZZ_SECONDS (build-fuzz)
# Prints "N passed, N failed" last and exits non-zero when anything failed.
#
# The integration suites run on a pytest-xdist worker per core (JOBS),
# each test file whole on one worker (its peer servers are module
# fixtures), ports drawn from a range per worker (tests/integration/
# harness.py).
#
# Environment: B (build dir, default build), FUZZ_SECONDS (default 30),
# CHECK_SKIP_ASAN=1 / CHECK_SKIP_FUZZ=1 to leave a stage out while working,
# PYTEST_ARGS (extra pytest arguments, e.g. "-k auth -x").
set -u
cd "$(dirname "$0")/.." || exit 1

B=${B:-build}
MAKE=${MAKE:-make}
PY=/usr/bin/python3
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# Run on SQLite under the sanitizers as well (the rest of the suite runs
# there on PostgreSQL only).
SQLITE_ASAN_FILES="tests/integration/test_mam_store.py
 tests/integration/test_offline.py tests/integration/test_sm.py
 tests/integration/test_muc_persist.py"

XDIST=
if [ "$JOBS" -gt 1 ] && $PY -c 'import xdist' 2>/dev/null; then
    XDIST="-n $JOBS --dist loadfile"
fi

passed=0
failed=0
failures=""

ok() {
    passed=$((passed + ${2:-1}))
}

ko() {
    failed=$((failed + ${2:-1}))
    failures="$failures
  $1"
    echo "FAILED: $1" >&2
}

stage() {
    printf '\n==== %s ====\n' "$1"
}

unit_tests() {
    dir=$1/tests/unit
    found=0
    for t in "$dir"/test-*; do
        [ -x "$t" ] || continue
        found=1
        if "$t"; then ok "$t"; else ko "$t"; fi
    done
    [ $found = 1 ] || ko "no unit tests in $dir"
}

# integration LABEL BUILD [STORAGE [FILES]]: STORAGE sqlite (default) or
# pgsql (EMBER_STORAGE, see tests/integration/harness.py).
integration() {
    label=$1
    out=$(mktemp)
    rcf=$(mktemp)
    # shellcheck disable=SC2086
    { EMBER_STORAGE=${3:-sqlite} EMBER_BUILD=$2 $PY -m pytest -q -rfE \
        -p no:cacheprovider --durations=15 $XDIST ${PYTEST_ARGS:-} \
        ${4:-tests/integration} 2>&1
      echo $? >"$rcf"; } |
        tee "$out"
    rc=$(cat "$rcf")
    summary=$(grep -E '[0-9]+ (passed|failed|errors?)' "$out" | tail -n 1)
    rm -f "$out" "$rcf"
    p=$(echo "$summary" | sed -n 's/.*[^0-9]\([0-9][0-9]*\) passed.*/\1/p')
    [ -n "$p" ] || p=$(echo "$summary" | sed -n 's/^\([0-9][0-9]*\) passed.*/\1/p')
    f=$(echo "$summary" | sed -n 's/.*[^0-9]\([0-9][0-9]*\) failed.*/\1/p')
    [ -n "$f" ] || f=$(echo "$summary" | sed -n 's/^\([0-9][0-9]*\) failed.*/\1/p')
    e=$(echo "$summary" | sed -n 's/.*[^0-9]\([0-9][0-9]*\) errors\{0,1\}.*/\1/p')
    [ -n "$e" ] || e=$(echo "$summary" | sed -n 's/^\([0-9][0-9]*\) errors\{0,1\}.*/\1/p')
    p=${p:-0}; f=${f:-0}; e=${e:-0}
    [ "$p" -gt 0 ] && ok "$label" "$p"
    if [ $((f + e)) -gt 0 ]; then
        ko "$label: $f failed, $e errors" $((f + e))
    elif [ "$rc" != 0 ]; then
        # 5: no tests collected; anything else: pytest itself broke.
        ko "$label: pytest exited with $rc"
    fi
}

stage "unit tests ($B)"
unit_tests "$B"

# The console's browser tests drive Debian's chromium with playwright-core
# from npm (the versions pinned in tests/browser/package-lock.json).
if [ -f tests/browser/package-lock.json ]; then
    stage "browser test dependencies (npm ci)"
    if (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error); then
        ok "npm ci"
    else
        ko "npm ci in tests/browser"
    fi
fi
# xmpp.js for test_xmppjs.py (pinned in tests/clients/xmppjs/package-lock.json).
if [ -f tests/clients/xmppjs/package-lock.json ]; then
    stage "xmpp.js test dependencies (npm ci)"
    if (cd tests/clients/xmppjs && npm ci --no-audit --no-fund --loglevel=error); then
        ok "npm ci (xmppjs)"
    else
        ko "npm ci in tests/clients/xmppjs"
    fi
fi

stage "plugin ABI (tools/abi-check.sh)"
if tools/abi-check.sh --selftest; then ok "abi-check"; else ko "abi-check: plugin-api/ breaks ABI 1.0"; fi

stage "core layers (tools/layers.sh)"
if tools/layers.sh; then ok "layers"; else ko "layers: an include points up or sideways"; fi

stage "integration tests ($B)"
integration "integration ($B)" "$B"

if [ "${CHECK_SKIP_ASAN:-0}" != 1 ]; then
    stage "AddressSanitizer + UBSan build (build-asan)"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    if $MAKE -j"$JOBS" B=build-asan SAN=asan all tests-build; then
        ok "asan build"
        stage "unit tests (build-asan)"
        unit_tests build-asan
        # The whole suite runs once on each backend: on SQLite above, on
        # PostgreSQL here; the files that lean on storage the most run on
        # SQLite under the sanitizers too.
        stage "integration tests (build-asan, PostgreSQL)"
        integration "integration (build-asan, pgsql)" build-asan pgsql
        stage "storage integration tests (build-asan, SQLite)"
        integration "storage integration (build-asan, sqlite)" build-asan \
            sqlite "$SQLITE_ASAN_FILES"
    else
        ko "asan build"
    fi
fi

if [ "${CHECK_SKIP_FUZZ:-0}" != 1 ]; then
    stage "fuzzing (build-fuzz, ${FUZZ_SECONDS}s per target)"
    out=$(mktemp)
    FUZZ_SECONDS=$FUZZ_SECONDS tools/fuzz.sh | tee "$out"
    n=$(grep -c '^fuzz ok: ' "$out")
    [ "$n" -gt 0 ] && ok "fuzzing" "$n"
    grep '^fuzz FAILED: ' "$out" >"$out.bad"
    while read -r line; do
        ko "${line#fuzz FAILED: }"
    done <"$out.bad"
    rm -f "$out" "$out.bad"
fi

if [ -n "$failures" ]; then
    printf '\nfailures:%s\n' "$failures"
fi
printf '\n%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
