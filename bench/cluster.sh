#!/bin/bash
# make bench-cluster: two emberd nodes of one cluster (doc/cluster.md) and
# their Redis on loopback.  Chat pairs with both users on one node, then
# with each user on a different node: delivered messages per server
# CPU-second (both nodes and Redis count) and the latency a cross-node hop
# adds at BENCH_RATE msgs/s; then BENCH_HOLD sessions held on each node.
# Usage: bench/cluster.sh BUILD_DIR.  Sizes: the BENCH_* of bench/run.sh.

set -eu
BENCH_LIB=1
# shellcheck source=bench/run.sh
. "$(dirname "$0")/run.sh"

command -v redis-server >/dev/null || die "redis-server not installed"
bench_init "$@"
TOP_WORK=$WORK
# emberd started as root runs as its <run-as> user: let it reach its dir.
chmod 755 "$WORK"
REDIS_PID=
NODE_PIDS=

cluster_cleanup() {
    local p
    for p in $NODE_PIDS $REDIS_PID; do
        SERVER_PID=$p
        server_stop
    done
    WORK=$TOP_WORK
    bench_cleanup
}
trap cluster_cleanup EXIT

RPORT=$(free_port_base)
mkdir -p "$WORK/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK/redis" >"$WORK/redis/redis.log" 2>&1 &
REDIS_PID=$!
wait_listen "$RPORT" 30 || die "redis-server did not listen on $RPORT"

for n in a b; do
    WORK=$TOP_WORK/$n
    mkdir -p "$WORK"
    chmod 755 "$WORK"
    BENCH_EMBER_EXTRA="\n  <cluster redis=\"127.0.0.1:$RPORT\" node=\"$n\"/>"
    ember_start
    NODE_PIDS="$NODE_PIDS $SERVER_PID"
    eval "PORT_$n=$PORT PID_$n=$SERVER_PID"
done
WORK=$TOP_WORK
# shellcheck disable=SC2154
PORT=$PORT_a SERVER_PID=$PID_a
MORE="$PID_b,$REDIS_PID"
p2=$((2 * BENCH_PAIRS))

load cluster prime --hold --users "$p2" --settle 0 --duration 0 \
    --timeout 240
# shellcheck disable=SC2154
for where in local cross; do
    x=
    [ "$where" = cross ] && x="--port2 $PORT_b"
    # shellcheck disable=SC2086
    load "$where" closed --pairs --users "$p2" --more-pids "$MORE" $x \
        --window "$BENCH_WINDOW" --settle 1 --warmup 2 \
        --duration "$BENCH_SECS" --timeout 120
    # shellcheck disable=SC2086
    load "$where" open --pairs --users "$p2" --more-pids "$MORE" $x \
        --rate "$BENCH_RATE" --settle 1 --warmup 2 \
        --duration "$BENCH_SECS" --timeout 120
done

# BENCH_HOLD sessions on each node at once.
"$LOAD" --port "$PORT_b" --domain "$BENCH_DOMAIN" --password "$BENCH_PASSWORD" \
    --scram-cache "$WORK/scram.cache" --hold --users "$BENCH_HOLD" \
    --duration 120 --settle 0 --timeout 600 --label "hold b" \
    --concurrency "$BENCH_CONCURRENCY" >"$RESULTS/hold_b.out" 2>&1 &
HOLD_B=$!
load both hold --hold --users "$BENCH_HOLD" --settle 3 --duration 2 \
    --timeout 600
HELD_B=$("$B/emberctl" -c "$TOP_WORK/b/ember/ember.xml" --json status |
    grep -o '"sessions": *[0-9]*' | head -n 1 | grep -o '[0-9]*$')
kill "$HOLD_B" 2>/dev/null || true
wait "$HOLD_B" 2>/dev/null || true

echo
echo "ember-load on $(nproc) cores, loopback TCP, two nodes and Redis," \
     "$(date -u +%Y-%m-%d)"
printf '%-44s%14s%14s%14s\n' metric local cross cross/local
row() {  # LABEL PHASE KEY FORMAT
    local a b
    a=$(jget local "$2" "$3")
    b=$(jget cross "$2" "$3")
    printf '%-44s' "$1"
    awk -v a="$a" -v b="$b" -v f="$4" 'BEGIN {
        printf "%14" f "%14" f, a, b
        if (a > 0 && b != "-") printf "%13.2fx", b / a
        printf "\n" }'
}
row "closed loop: delivered msgs/s" closed msgs_per_s .0f
row "  msgs per server CPU-second" closed msgs_per_cpu_s .0f
row "  latency p50, ms" closed p50_ms .3f
row "open loop at $BENCH_RATE msgs/s: delivered" open msgs_per_s .0f
row "  msgs per server CPU-second" open msgs_per_cpu_s .0f
row "  latency p50, ms" open p50_ms .3f
row "  latency p99, ms" open p99_ms .3f
printf '%-44s%14s\n' "sessions held at once on node a" \
    "$(jget both hold online)"
printf '%-44s%14s\n' "  and on node b, meanwhile" "${HELD_B:--}"
printf '%-44s%14s\n' "  RSS per held session on a, KiB" \
    "$(jget both hold rss_kib_per_session)"
