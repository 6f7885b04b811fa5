#!/bin/bash
# make bench: run ember-load against a fresh emberd on loopback and print one
# table.  Usage: bench/run.sh BUILD_DIR
#   BENCH_SERVER=prosody bench/run.sh BUILD_DIR   same phases against Prosody
# Sizes (environment): BENCH_HOLD (19000 sessions held), BENCH_LOGINS (2000
# per login-rate phase), BENCH_PAIRS (1000 chat pairs), BENCH_WINDOW (4
# messages in flight per sender, closed loop), BENCH_RATE (5000 msgs/s, open
# loop), BENCH_SECS (10 s measured per message phase).
# peers.sh and cluster.sh source this file with BENCH_LIB=1 to reuse the
# functions (BENCH_EMBER_EXTRA: more elements for ember.xml).

set -eu

BENCH_HOLD=${BENCH_HOLD:-19000}
BENCH_LOGINS=${BENCH_LOGINS:-2000}
BENCH_PAIRS=${BENCH_PAIRS:-1000}
BENCH_WINDOW=${BENCH_WINDOW:-4}
BENCH_RATE=${BENCH_RATE:-5000}
BENCH_SECS=${BENCH_SECS:-10}
BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-100}
BENCH_CONNECT_RATE=${BENCH_CONNECT_RATE:-0}
BENCH_PASSWORD=pw-bench
BENCH_DOMAIN=localhost
BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SERVER_PID=
SERVER_STOP=

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

bench_init() {
    [ $# -ge 1 ] || die "usage: $0 BUILD_DIR"
    B=$(cd "$1" && pwd) || die "no build directory $1"
    LOAD=$B/bench/ember-load
    [ -x "$LOAD" ] || die "$LOAD missing: run make bench"
    # Every held session is a socket on both ends: take the hard limit.
    ulimit -n "$(ulimit -Hn)"
    if [ "$(ulimit -n)" -lt $((BENCH_HOLD + 200)) ]; then
        BENCH_HOLD=$(( $(ulimit -n) - 200 ))
        say "bench: open-file limit $(ulimit -n): holding $BENCH_HOLD sessions"
    fi
    WORK=$(mktemp -d /tmp/ember-bench.XXXXXX)
    RESULTS=$WORK/results
    mkdir -p "$RESULTS"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    server_stop
    if [ -n "${BENCH_KEEP:-}" ]; then
        say "bench: kept $WORK"
    else
        rm -rf "$WORK"
    fi
}

# A base port with BASE..BASE+7 free on loopback.
free_port_base() {
    local base i used
    used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://')
    for _ in $(seq 50); do
        base=$(( 20000 + (RANDOM % 1000) * 10 ))
        for i in 0 1 2 3 4 5 6 7; do
            if printf '%s\n' "$used" | grep -qx "$((base + i))"; then
                base=
                break
            fi
        done
        [ -n "$base" ] && { echo "$base"; return 0; }
    done
    die "no free port range"
}

wait_listen() {  # PORT SECONDS
    local i
    for i in $(seq $(( $2 * 10 ))); do
        ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

server_stop() {
    local pid=$SERVER_PID
    SERVER_PID=
    if [ -n "$SERVER_STOP" ]; then
        eval "$SERVER_STOP" >/dev/null 2>&1 || true
        SERVER_STOP=
    fi
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

users_lines() {  # COUNT FORMAT: one line per user, %d is the index
    awk -v n="$1" -v f="$2" 'BEGIN { for (i = 0; i < n; i++) printf f "\n", i }'
}

# ---- Ember ----

ember_start() {
    local dir=$WORK/ember base cfg n
    base=$(free_port_base)
    PORT=$base
    "$B/emberctl" init "$dir" --domain "$BENCH_DOMAIN" --ports "$base" \
        >/dev/null || die "emberctl init failed"
    cfg=$dir/ember.xml
    # Plain c2s on loopback (benchmark only), a quiet log, and room for
    # every session coming from the one loopback address.
    sed -i -E "/<listen[^>]*type=[\"']c2s[\"']/{
        s/require-tls=[\"'][a-z]*[\"']/require-tls=\"false\"/
        /require-tls=/!s#<listen#<listen require-tls=\"false\"#
        s#[ ]*/>\$# rate=\"0\"/>#
    }" "$cfg"
    grep -Eq "<listen[^>]*type=[\"']c2s[\"'][^>]*require-tls=\"false\"|<listen require-tls=\"false\"[^>]*type=[\"']c2s[\"']" "$cfg" ||
        die "could not switch the c2s listener to plain TCP in $cfg"
    sed -i -E '/<(log|limits)([ \t>\/]|$)/{ :a; /\/>/!{ N; ba; }; d; }' "$cfg"
    sed -i -E 's#(<ember[^>]*>)#\1\n  <log level="warn" file="ember.log"/>\n  <limits max-connections-per-ip="100000" connections-per-second-per-ip="0" idle-timeout="3600"/>'"${BENCH_EMBER_EXTRA:-}"'#' "$cfg"
    "$B/emberctl" -c "$cfg" check >/dev/null || die "generated config invalid"
    n=$(( BENCH_HOLD > 2 * BENCH_PAIRS ? BENCH_HOLD : 2 * BENCH_PAIRS ))
    say "bench: ember: creating $n users"
    users_lines "$n" "adduser u%d@$BENCH_DOMAIN $BENCH_PASSWORD" |
        "$B/emberctl" -c "$cfg" batch >"$WORK/ember-batch.log" ||
        die "emberctl batch failed (see $WORK/ember-batch.log)"
    "$B/emberd" -c "$cfg" >"$dir/emberd.out" 2>&1 &
    SERVER_PID=$!
    wait_listen "$PORT" 30 || die "emberd did not listen on $PORT"
    SERVER_VERSION="emberd $(sed -n 's/^VERSION *= *//p' "$BENCH_TOP/config.mk")"
}

# ---- Prosody ----

prosody_start() {
    local dir=$WORK/prosody n salt keys iter=10000
    command -v prosody >/dev/null || die "prosody not installed"
    mkdir -p "$dir/data/localhost/accounts" "$dir/certs"
    PORT=$(free_port_base)
    cat >"$dir/prosody.cfg.lua" <<EOF
-- ember bench: plaintext c2s on loopback only, hashed passwords, no limits
run_as_root = true
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
log = { warn = "$dir/prosody.log" }
network_backend = "epoll"
network_settings = { tcp_backlog = 1024 }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $PORT }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
modules_enabled = { "roster", "saslauth", "disco", "ping", "version" }
modules_disabled = { "s2s", "tls", "offline" }
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
default_iteration_count = $iter
storage = "internal"
VirtualHost "$BENCH_DOMAIN"
EOF
    n=$(( BENCH_HOLD > 2 * BENCH_PAIRS ? BENCH_HOLD : 2 * BENCH_PAIRS ))
    say "bench: prosody: creating $n users"
    # prosodyctl takes ~0.3 s per account: write the account files it would
    # write (one salt for all, same cost to the server per login).
    salt=$(cat /proc/sys/kernel/random/uuid)
    keys=$("$LOAD" --password "$BENCH_PASSWORD" --scram-secrets "$salt" "$iter")
    awk -v n="$n" -v d="$dir/data/localhost/accounts" -v salt="$salt" \
        -v iter="$iter" -v stk="${keys% *}" -v sk="${keys#* }" 'BEGIN {
        for (i = 0; i < n; i++) {
            f = d "/u" i ".dat"
            printf "return {\n\t[\"salt\"] = \"%s\";\n\t[\"iteration_count\"] = %d;\n\t[\"server_key\"] = \"%s\";\n\t[\"stored_key\"] = \"%s\";\n};\n", salt, iter, sk, stk > f
            close(f)
        } }'
    prosody --config "$dir/prosody.cfg.lua" -F >"$dir/prosody.out" 2>&1 &
    SERVER_PID=$!
    wait_listen "$PORT" 30 || die "prosody did not listen on $PORT"
    SERVER_VERSION="prosody $(dpkg-query -W -f='${Version}' prosody |
        sed 's/-.*//')"
}

# ---- ejabberd ----

ejabberd_stop() {  # PID of the foreground ejabberdctl
    local dir=$WORK/ejabberd epmd
    HOME=$dir setpriv --reuid ejabberd --regid ejabberd --init-groups \
        ejabberdctl --config-dir "$dir" --config "$dir/ejabberd.yml" \
        --ctl-config "$dir/ejabberdctl.cfg" --logs "$dir/logs" \
        --spool "$dir/spool" stop >/dev/null 2>&1 || true
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    # Erlang started an epmd on this run's private port: stop it.
    epmd=$(ss -Hltnp "sport = :$(( EJ_PORT + 5 ))" |
        sed -n 's/.*"epmd",pid=\([0-9]*\).*/\1/p' | head -n 1)
    if [ -n "$epmd" ]; then kill "$epmd" 2>/dev/null || true; fi
}

ejabberd_start() {
    local dir=$WORK/ejabberd n
    command -v ejabberdctl >/dev/null || die "ejabberd not installed"
    PORT=$(free_port_base)
    mkdir -p "$dir/logs" "$dir/spool"
    # ejabberdctl runs the node as the ejabberd user: let it reach the dir.
    chmod 755 "$WORK"
    cat >"$dir/ejabberdctl.cfg" <<EOF
ERLANG_NODE=ejbench$$@localhost
EJABBERD_PID_PATH=$dir/ejabberd.pid
export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$((PORT + 5))
INET_DIST_INTERFACE=127.0.0.1
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
CONTRIB_MODULES_CONF_DIR=$dir/modules.d
EJABBERD_BYPASS_WARNINGS=true
EOF
    cat >"$dir/ejabberd.yml" <<EOF
# ember bench: plaintext c2s on loopback only, SCRAM-hashed passwords,
# no shapers or rate limits
hosts:
  - $BENCH_DOMAIN
loglevel: warning
certfiles: []
listen:
  -
    port: $PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    backlog: 1024
    shaper: none
    access: c2s
    starttls: false
    starttls_required: false
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha
registration_timeout: infinity
access_rules:
  c2s:
    allow: all
  register:
    allow: all
shaper_rules:
  c2s_shaper: none
  s2s_shaper: none
  max_user_sessions: 10
modules:
  mod_disco: {}
  mod_ping: {}
  mod_version: {}
  mod_roster: {}
  mod_register:
    access: register
    password_strength: 0
EOF
    cp /etc/ejabberd/inetrc "$dir/" 2>/dev/null || true
    chown -R ejabberd: "$dir"
    # As the ejabberd user without su: su's PAM session would reset the
    # open-file limit to 1024.  HOME keeps the Erlang cookie in the dir.
    HOME=$dir setpriv --reuid ejabberd --regid ejabberd --init-groups \
        bash -c 'ulimit -n "$(ulimit -Hn)"; exec "$@"' ejabberd \
        ejabberdctl --config-dir "$dir" --config "$dir/ejabberd.yml" \
        --ctl-config "$dir/ejabberdctl.cfg" --logs "$dir/logs" \
        --spool "$dir/spool" foreground-quiet >"$dir/ejabberd.out" 2>&1 &
    SERVER_STOP="ejabberd_stop $!"
    EJ_PORT=$PORT
    wait_listen "$PORT" 60 || die "ejabberd did not listen on $PORT"
    for _ in $(seq 50); do
        [ -s "$dir/ejabberd.pid" ] && break
        sleep 0.1
    done
    SERVER_PID=$(cat "$dir/ejabberd.pid" 2>/dev/null) ||
        die "no ejabberd pid file"
    SERVER_VERSION="ejabberd $(dpkg-query -W -f='${Version}' ejabberd |
        sed 's/-.*//')"
    n=$(( BENCH_HOLD > 2 * BENCH_PAIRS ? BENCH_HOLD : 2 * BENCH_PAIRS ))
    say "bench: ejabberd: registering $n users in-band"
    "$LOAD" --register --port "$PORT" --domain "$BENCH_DOMAIN" \
        --users "$n" --password "$BENCH_PASSWORD" --concurrency 50 \
        --timeout 600 --label "ejabberd register" >&2 ||
        die "registering users failed"
}

# ---- phases ----

load() {  # NAME PHASE ARGS...: one ember-load run, JSON saved
    local name=$1 phase=$2
    shift 2
    say ""
    say "== $name: $phase"
    "$LOAD" --port "$PORT" --domain "$BENCH_DOMAIN" \
        --password "$BENCH_PASSWORD" --server-pid "$SERVER_PID" \
        --scram-cache "$WORK/scram.cache" --label "$name $phase" \
        --concurrency "$BENCH_CONCURRENCY" \
        --connect-rate "$BENCH_CONNECT_RATE" "$@" |
        tee "$RESULTS/$name.$phase.out" >&2 || true
    tail -n 1 "$RESULTS/$name.$phase.out" | grep '^{' \
        >"$RESULTS/$name.$phase.json" || say "bench: $name $phase: no result"
    kill -0 "$SERVER_PID" 2>/dev/null || die "$name died during $phase"
}

run_phases() {  # NAME
    local n=$1 p2=$((2 * BENCH_PAIRS)) m
    m=$(( BENCH_LOGINS > p2 ? BENCH_LOGINS : p2 ))
    # Unmeasured: derive the SCRAM salted passwords of the users the
    # measured phases log in, so those phases measure the server.
    load "$n" prime --hold --users "$m" --mech SCRAM-SHA-1 \
        --settle 0 --duration 0 --timeout 240
    load "$n" scram --hold --users "$BENCH_LOGINS" --mech SCRAM-SHA-1 \
        --settle 1 --duration 0 --timeout 120
    load "$n" plain --hold --users "$BENCH_LOGINS" --mech PLAIN \
        --settle 1 --duration 0 --timeout 120
    load "$n" closed --pairs --users "$p2" --mech SCRAM-SHA-1 \
        --window "$BENCH_WINDOW" --settle 1 --warmup 2 \
        --duration "$BENCH_SECS" --timeout 120
    load "$n" open --pairs --users "$p2" --mech SCRAM-SHA-1 \
        --rate "$BENCH_RATE" --settle 1 --warmup 2 \
        --duration "$BENCH_SECS" --timeout 120
    # Last: 19,000 sessions leave some servers with a large heap that slows
    # whatever runs after them.
    load "$n" hold --hold --users "$BENCH_HOLD" --mech SCRAM-SHA-1 \
        --settle 3 --duration 2 --timeout 240
}

jget() {  # NAME PHASE KEY
    local f=$RESULTS/$1.$2.json
    [ -s "$f" ] || { echo "-"; return; }
    sed -n "s/.*\"$3\":\\([^,}]*\\).*/\\1/p" "$f" | tr -d '"'
}

# One row: label, format, then KEY phase pairs per server are looked up;
# ratio columns compare the first server with each other one.
table_row() {  # LABEL PHASE KEY FORMAT SERVERS...
    local label=$1 phase=$2 key=$3 fmt=$4 first= v s line
    shift 4
    line=$(printf '%-44s' "$label")
    local vals=()
    for s in "$@"; do
        v=$(jget "$s" "$phase" "$key")
        vals+=("$v")
        if [ "$v" = "-" ] || awk -v v="$v" 'BEGIN { exit !(v < 0) }'; then
            line+=$(printf '%14s' "-")
        else
            line+=$(awk -v v="$v" -v f="$fmt" 'BEGIN { printf "%14" f, v }')
        fi
    done
    if [ $# -gt 1 ]; then
        first=${vals[0]}
        for v in "${vals[@]:1}"; do
            line+=$(awk -v a="$first" -v b="$v" 'BEGIN {
                if (a == "-" || b == "-" || a < 0 || b <= 0)
                    printf "%18s", "-"
                else
                    printf "%17.2fx", a / b }')
        done
    fi
    printf '%s\n' "$line"
}

print_table() {  # SERVERS...
    local s head
    head=$(printf '%-44s' "metric")
    for s in "$@"; do head+=$(printf '%14s' "$s"); done
    if [ $# -gt 1 ]; then
        for s in "${@:2}"; do head+=$(printf '%18s' "$1/$s"); done
    fi
    echo
    echo "ember-load on $(nproc) cores, loopback TCP, $(date -u +%Y-%m-%d)"
    echo "$head"
    table_row "sessions held (SCRAM-SHA-1)" hold online .0f "$@"
    table_row "  RSS per held session, KiB (lower better)" rss \
        rss_kib_per_session .1f "$@"
    table_row "  logins/s while filling" hold logins_per_s .0f "$@"
    table_row "  server CPU per login, ms (lower better)" hold \
        cpu_ms_per_login .3f "$@"
    table_row "SCRAM-SHA-1 logins/s" scram logins_per_s .0f "$@"
    table_row "  server CPU per login, ms (lower better)" scram \
        cpu_ms_per_login .3f "$@"
    table_row "  login latency p99, ms (lower better)" scram \
        login_p99_ms .2f "$@"
    table_row "PLAIN logins/s" plain logins_per_s .0f "$@"
    table_row "  server CPU per login, ms (lower better)" plain \
        cpu_ms_per_login .3f "$@"
    table_row "closed loop: delivered msgs/s" closed msgs_per_s .0f "$@"
    table_row "  msgs per server CPU-second" closed msgs_per_cpu_s .0f "$@"
    table_row "  server CPU, cores busy" closed server_cores .2f "$@"
    table_row "  latency p50, ms (lower better)" closed p50_ms .3f "$@"
    table_row "  latency p99, ms (lower better)" closed p99_ms .3f "$@"
    table_row "open loop: delivered msgs/s" open msgs_per_s .0f "$@"
    table_row "  msgs per server CPU-second" open msgs_per_cpu_s .0f "$@"
    table_row "  latency p50, ms (lower better)" open p50_ms .3f "$@"
    table_row "  latency p90, ms (lower better)" open p90_ms .3f "$@"
    table_row "  latency p99, ms (lower better)" open p99_ms .3f "$@"
    for s in "$@"; do
        local e=0 ph x
        for ph in hold scram plain closed open; do
            x=$(jget "$s" "$ph" errors)
            [ "$x" = "-" ] || e=$((e + x))
        done
        echo "errors ($s): $e"
    done
    echo "closed loop: $BENCH_PAIRS pairs, window $BENCH_WINDOW;" \
        "open loop: $BENCH_RATE msgs/s over $BENCH_PAIRS pairs;" \
        "${BENCH_SECS} s measured each"
}

rss_kib() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null
}

bench_one() {  # NAME: start, run, stop
    local name=$1 rss0 rss1 online
    "${name}_start"
    sleep 1
    rss0=$(rss_kib "$SERVER_PID")
    say "bench: $SERVER_VERSION on 127.0.0.1:$PORT (pid $SERVER_PID)"
    echo "$name: $SERVER_VERSION" >>"$RESULTS/versions"
    run_phases "$name"
    # Per held session against the fresh server: memory the earlier phases
    # left in the allocator would otherwise hide part of the cost.
    rss1=$(jget "$name" hold rss_kib_after)
    online=$(jget "$name" hold online)
    awk -v a="${rss1:--}" -v b="${rss0:--}" -v n="${online:--}" 'BEGIN {
        if (a + 0 > 0 && b + 0 > 0 && n + 0 > 0)
            printf "{\"rss_kib_start\":%d,\"rss_kib_per_session\":%.2f}\n",
                b, (a - b) / n
        }' >"$RESULTS/$name.rss.json"
    server_stop
}

if [ -z "${BENCH_LIB:-}" ]; then
    bench_init "$@"
    server=${BENCH_SERVER:-ember}
    bench_one "$server"
    cat "$RESULTS/versions"
    print_table "$server"
    if [ "$server" = ember ]; then
        # The IM modules' figures (issue 3), each against its own emberd.
        /usr/bin/python3 bench/roster_login.py "$B"
        /usr/bin/python3 bench/offline_rate.py "$B"
        # Group chat fan-out and pubsub notifications (issues 4 and 5).
        EMBER_BUILD=$B /usr/bin/python3 bench/muc_fanout.py
        # Pages of a large room archive (XEP-0313, issue 16).
        EMBER_BUILD=$B /usr/bin/python3 bench/muc_archive.py
        # Archives at 10M messages, seeded through the module's own code:
        # pages of an account's and a room's, appends on top (issue 16;
        # about 2 minutes, 4 GB in /tmp while it runs).
        EMBER_BUILD=$B /usr/bin/python3 bench/mam_archive.py
        # XEP-0198: acknowledgements against messages per CPU-second,
        # memory of 4,000 hibernating sessions (issue 16).
        EMBER_BUILD=$B /usr/bin/python3 bench/mam_sm.py
        EMBER_BUILD=$B /usr/bin/python3 bench/pubsub_notify.py
        # A flooding client against another's latency (issue 13).
        EMBER_BUILD=$B /usr/bin/python3 bench/flood_p99.py
        # XMPP over WebSocket against TCP: memory, messages/CPU-s (issue 15).
        EMBER_BUILD=$B /usr/bin/python3 bench/ws_sessions.py
        # A 1 GiB upload and download: MiB/s and emberd's RSS (issue 15).
        EMBER_BUILD=$B /usr/bin/python3 bench/upload.py
        # Two emberd over one s2s link; memory per inbound link (issue 17).
        EMBER_BUILD=$B /usr/bin/python3 bench/s2s.py
        EMBER_BUILD=$B /usr/bin/python3 bench/s2s.py --no-mam --links 10
        # The same run with Prosody, then ejabberd, as the remote side.
        if [ -x /usr/bin/prosody ]; then
            EMBER_BUILD=$B /usr/bin/python3 bench/s2s.py --no-mam --peer prosody
        fi
        if [ -x /usr/sbin/ejabberdctl ]; then
            EMBER_BUILD=$B /usr/bin/python3 bench/s2s.py --no-mam --peer ejabberd
        fi
    fi
fi
