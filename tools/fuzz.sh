#!/bin/sh
# Build the libFuzzer targets (build-fuzz) and run each for FUZZ_SECONDS
# (default 30) from its seeds in tests/fuzz/corpus/NAME.  With FUZZ_KEEP=1
# (`make fuzz`) the inputs that reach new code are added to that corpus, to
# be committed; otherwise (`make check`) they go to a temporary one.
# Prints one "fuzz ok: NAME" or "fuzz FAILED: NAME" line per target and
# exits non-zero when one failed or none was built.
set -u
cd "$(dirname "$0")/.." || exit 1

MAKE=${MAKE:-make}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

if ! $MAKE -j"$JOBS" B=build-fuzz SAN=fuzz fuzz-build; then
    echo "fuzz FAILED: build"
    exit 1
fi
found=0
bad=0
for f in build-fuzz/tests/fuzz/fuzz-*; do
    [ -x "$f" ] || continue
    found=1
    name=$(basename "$f")
    seeds=tests/fuzz/corpus/$name
    if [ "${FUZZ_KEEP:-0}" = 1 ]; then
        mkdir -p "$seeds"
        corpus=$seeds
        extra=
    else
        corpus=$(mktemp -d)
        extra=$seeds
        [ -d "$seeds" ] || extra=
    fi
    # shellcheck disable=SC2086
    if "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix=build-fuzz/ \
            "$corpus" $extra >build-fuzz/"$name".log 2>&1; then
        echo "fuzz ok: $name"
        grep -E 'stat::number_of_executed_units' build-fuzz/"$name".log || true
    else
        tail -n 40 build-fuzz/"$name".log
        echo "fuzz FAILED: $name (log: build-fuzz/$name.log)"
        bad=$((bad + 1))
    fi
    [ "${FUZZ_KEEP:-0}" = 1 ] || rm -rf "$corpus"
done
if [ $found = 0 ]; then
    echo "fuzz FAILED: no targets in build-fuzz/tests/fuzz"
    exit 1
fi
[ $bad = 0 ]
