#!/bin/sh
# Install the Debian packages a step needs: as root with apt-get, otherwise
# print the one apt-get line to run.  Usage: tools/deps.sh build|test|bench|peers
set -e
build="autoconf automake pkg-config gcc make libuv1-dev libxml2-dev
 libgnutls28-dev libgsasl-dev libsqlite3-dev libjansson-dev libidn11-dev
 libhttp-parser-dev libwslay-dev libc-ares-dev libldap-dev libunbound-dev
 dns-root-data libhiredis-dev libpq-dev libcsv-dev"
test="$build libcmocka-dev python3-pytest python3-pytest-xdist python3-slixmpp python3-openssl clang
 libclang-rt-14-dev chromium openssl fail2ban profanity tmux python3-nbxmpp coturn python3-websocket prosody lua-unbound dnsmasq-base ejabberd
 biboumi ngircd slapd ldap-utils nsd ldnsutils redis-server postgresql"
bench="$build"
peers="$build prosody ejabberd dnsmasq-base"
case "${1:-build}" in
    build) want=$build ;;
    test) want=$test ;;
    bench) want=$bench ;;
    peers) want=$peers ;;
    *) echo "usage: $0 build|test|bench|peers" >&2; exit 2 ;;
esac
missing=
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        missing="$missing $p"
done
# Node.js and npm for the browser tests: any installation will do (the
# machine may have its own, which Debian's npm package would conflict with).
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The servers the tests start themselves (Prosody, ejabberd, slapd,
    # ngircd ...) must not start as system services on install: they would
    # hold 5222, 5269, 389 and the next `make run` could not listen.
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [ ! -e $policy ]; then
        printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy &&
            own_policy=1
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
        { [ -n "$own_policy" ] && rm -f $policy; exit 1; }
    [ -n "$own_policy" ] && rm -f $policy
    # What configure finds has changed: config.mk depends on this file, so
    # the next make reconfigures (make run, then make check, in that order).
    date >.deps-installed
else
    echo "missing Debian packages; run:" >&2
    echo "  sudo apt-get install$missing" >&2
    exit 1
fi
