#!/bin/sh
# Build the libFuzzer targets (build-fuzz) and run each for FUZZ_SECONDS
# (default 30) from its seeds in tests/fuzz/corpus/NAME.  With FUZZ_KEEP=1
# (`make fuzz`) the inputs that reach new code are added to that corpus, to
# be committed; otherwise (`make check`) they go to a temporary one.
# Runs one target per core at a time.  Prints one "fuzz ok: NAME" or
# "fuzz FAILED: NAME" line per target and
# exits non-zero when one failed or none was built.
set -u
cd "$(dirname "$0")/.." || exit 1

MAKE=${MAKE:-make}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# fuzz_one TARGET: run one target, print its line; exit 1 when it failed.
fuzz_one() {
    f=$1
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
    rc=0
    # shellcheck disable=SC2086
    if "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix=build-fuzz/ \
            "$corpus" $extra >build-fuzz/"$name".log 2>&1; then
        echo "fuzz ok: $name $(grep -E 'stat::number_of_executed_units' \
            build-fuzz/"$name".log)"
    else
        echo "$(tail -n 40 build-fuzz/"$name".log)
fuzz FAILED: $name (log: build-fuzz/$name.log)"
        rc=1
    fi
    [ "${FUZZ_KEEP:-0}" = 1 ] || rm -rf "$corpus"
    return $rc
}

if [ "${1:-}" = --one ]; then
    fuzz_one "$2"
    exit
fi

if ! $MAKE -j"$JOBS" B=build-fuzz SAN=fuzz fuzz-build; then
    echo "fuzz FAILED: build"
    exit 1
fi
targets=$(for f in build-fuzz/tests/fuzz/fuzz-*; do
    [ -x "$f" ] && echo "$f"; done)
if [ -z "$targets" ]; then
    echo "fuzz FAILED: no targets in build-fuzz/tests/fuzz"
    exit 1
fi
# One target per core at a time: each still gets FUZZ_SECONDS of a core.
echo "$targets" | FUZZ_SECONDS=$FUZZ_SECONDS xargs -P "$JOBS" -n 1 sh "$0" --one
