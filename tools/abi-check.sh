#!/bin/sh
# The plugin ABI check: today's plugin-api/ against the frozen 1.0 headers
# in tests/abi/v1.0/ (see tests/abi/abi-check.c and doc/abi.md).
#
#   tools/abi-check.sh              check plugin-api/ (what make check runs)
#   tools/abi-check.sh --selftest   also prove the check catches a reordered,
#                                   removed and retyped field, and accepts an
#                                   appended one
#   tools/abi-check.sh --include DIR   check the headers in DIR/ember/
#
# Exit status 0 when compatible, 1 when not (the compiler says which field).
set -u
cd "$(dirname "$0")/.." || exit 1

CC=${CC:-cc}
FROZEN=tests/abi/v1.0/ember
CHECK=tests/abi/abi-check.c
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-abi.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM

# The frozen copy, renamed so that it can sit next to today's headers:
# EMBER_* -> V10_EMBER_*, <ember/x.h> -> <v10/ember/x.h>, and the struct
# and enum *definitions* -> v10_...; references keep today's names.
mkdir -p "$TMP/gen/v10/ember"
for h in "$FROZEN"/*.h; do
    sed -e 's/\bEMBER_/V10_EMBER_/g' \
        -e 's|#include <ember/|#include <v10/ember/|' \
        -e 's/struct ember_\([a-z0-9_]*\)_s {/struct v10_ember_\1_s {/' \
        -e 's/^} ember_\([a-z0-9_]*\)_t;/} v10_ember_\1_t;/' \
        "$h" > "$TMP/gen/v10/ember/$(basename "$h")" || exit 1
done

# check INCLUDE_DIR LABEL: compile and run abi-check.c against INCLUDE_DIR.
check() {
    out="$TMP/abi-check"
    rm -f "$out"
    if ! $CC -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
            -Wno-unused-parameter -I"$1" -I"$TMP/gen" -o "$out" "$CHECK" \
            >"$TMP/cc.log" 2>&1; then
        return 1
    fi
    "$out" >"$TMP/run.log" 2>&1
}

selftest=0
include=plugin-api
while [ $# -gt 0 ]; do
    case $1 in
    --selftest) selftest=1 ;;
    --include) shift; include=${1:?--include needs a directory} ;;
    *) echo "usage: $0 [--selftest] [--include DIR]" >&2; exit 2 ;;
    esac
    shift
done

if check "$include"; then
    cat "$TMP/run.log"
else
    echo "abi-check: $include/ember/ breaks the plugin ABI 1.0:" >&2
    grep -E 'error|changed' "$TMP/cc.log" "$TMP/run.log" 2>/dev/null |
        sed -e "s|$TMP/gen/v10/ember/|tests/abi/v1.0/ember/ (renamed V10_) |" \
            -e "s|^$TMP/[a-z]*.log:||" | head -n 20 >&2
    exit 1
fi
[ $selftest = 1 ] || exit 0

# Each mutation of a copy of plugin-api/ must be caught (or, for the
# append, accepted).  FILE SED-SCRIPT EXPECT DESCRIPTION
fails=0
mutate() {
    rm -rf "$TMP/mut"
    mkdir -p "$TMP/mut"
    cp -R plugin-api/ember "$TMP/mut/ember"
    sed -i -e "$2" "$TMP/mut/ember/$1"
    if cmp -s "plugin-api/ember/$1" "$TMP/mut/ember/$1"; then
        echo "selftest: mutation '$4' changed nothing" >&2
        fails=$((fails + 1))
        return
    fi
    if check "$TMP/mut"; then got=pass; else got=fail; fi
    if [ "$got" = "$3" ]; then
        echo "selftest: $4: $got, as it should"
    else
        echo "selftest: $4: $got, expected $3" >&2
        sed 's/^/    /' "$TMP/cc.log" | head -n 5 >&2
        fails=$((fails + 1))
    fi
}

mutate types.h '/const ember_jid_t \*from;/{N;s/\(.*\)\n\(.*\)/\2\n\1/}' \
    fail "ember_event_t: from and to swapped"
mutate types.h '0,/^    const char \*host;/{/^    const char \*host;/d}' \
    fail "ember_event_t: host removed"
mutate types.h 's/long long min, max;/long min, max;/' \
    fail "ember_option_t: min/max retyped long long -> long (same size)"
mutate types.h 's/    int required;/    unsigned required;/' \
    fail "ember_cmd_arg_t: required retyped int -> unsigned"
mutate plugin.h 's/const char \*core_version;/char *core_version;/' \
    fail "ember_api_t: core_version lost its const"
mutate plugin.h 's/void (\*timer_stop)(ember_module_t \*m, ember_timer_t \*t);/int (*timer_stop)(ember_module_t *m, ember_timer_t *t);/' \
    fail "ember_api_t: timer_stop returns int"
mutate types.h 's/typedef void (\*ember_timer_cb)(ember_module_t \*m, ember_timer_t \*t, void \*ud);/typedef void (*ember_timer_cb)(ember_module_t *m, const ember_timer_t *t, void *ud);/' \
    fail "ember_timer_cb: parameter retyped"
mutate plugin.h 's/^    uint32_t flags;/    uint64_t flags;/' \
    fail "ember_plugin_t: flags widened"
mutate types.h 's/EMBER_LOG_WARN = 1/EMBER_LOG_WARN = 5/' \
    fail "EMBER_LOG_WARN renumbered"
mutate errno.h 's/XX(ENOENT, -3,/XX(ENOENT, -30,/' \
    fail "EMBER_ENOENT renumbered"
mutate events.h 's/"session-bound"/"session-started"/' \
    fail "event session-bound renamed"
mutate plugin.h '/long first_index);/a\    int (*appended_in_1_1)(ember_module_t *m);' \
    pass "ember_api_t: a field appended after rsm_add"
mutate types.h '/^    void \*data;/a\    int appended_in_1_1;' \
    pass "ember_event_t: a field appended"

if [ $fails -gt 0 ]; then
    echo "abi-check selftest: $fails mutation(s) not caught" >&2
    exit 1
fi
echo "abi-check selftest: every mutation caught"
