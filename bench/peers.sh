#!/bin/bash
# make bench-peers: the phases of make bench against emberd, Prosody and
# ejabberd one after the other, on loopback, then one table with the ratios
# Ember/peer.  Usage: bench/peers.sh BUILD_DIR
#   BENCH_SERVERS="prosody ejabberd" bench/peers.sh BUILD_DIR   a subset
# Sizes: the BENCH_* variables of bench/run.sh.

set -eu
BENCH_LIB=1
# shellcheck source=bench/run.sh
. "$(dirname "$0")/run.sh"

servers=${BENCH_SERVERS:-ember prosody ejabberd}

# Install what is missing.  Debian starts a freshly installed package's
# service (on the standard ports, all interfaces): stop those, but leave a
# service that was already installed alone.
fresh=
for p in prosody ejabberd; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        fresh="$fresh $p"
    # make bench-peers installs them just before this script runs
    find "/var/lib/dpkg/info/$p.list" -mmin -10 2>/dev/null | grep -q . &&
        fresh="$fresh $p"
done
"$BENCH_TOP/tools/deps.sh" peers
for p in $fresh; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$p"
    then
        systemctl stop "$p" && say "bench: stopped the $p service apt started"
    fi
done

bench_init "$@"
for s in $servers; do
    bench_one "$s"
done
cat "$RESULTS/versions"
# shellcheck disable=SC2086
print_table $servers
