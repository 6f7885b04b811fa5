#!/bin/sh
# The core's layers (doc/architecture.md): a file may include headers of
# its own folder and of the layers below it, never above it or beside it.
#   base < net, store < xmpp, http < web, runtime, cluster < admin < core/ (server,
#   main)
# Modules include only <ember/...>.  Exit 1 naming each include that breaks
# the order.
cd "$(dirname "$0")/.." || exit 1

rank() {
    case $1 in
        base) echo 0 ;;
        net|store) echo 1 ;;
        xmpp|http) echo 2 ;;
        runtime|web|cluster) echo 3 ;;
        admin) echo 4 ;;
        top) echo 5 ;;
        *) echo 99 ;;
    esac
}

bad=0
for f in core/*.c core/*.h core/*/*.c core/*/*.h; do
    [ -f "$f" ] || continue
    case $f in
        core/*/*) from=$(echo "$f" | cut -d/ -f2) ;;
        *) from=top ;;
    esac
    rf=$(rank "$from")
    for inc in $(sed -n 's/^#include "\([a-z_]*\)\/[^"]*".*/\1/p' "$f"); do
        ri=$(rank "$inc")
        if [ "$inc" != "$from" ] && { [ "$ri" -ge "$rf" ] || [ "$ri" = 99 ]; }
        then
            echo "$f: includes $inc/ (layer $ri) from $from/ (layer $rf)"
            bad=1
        fi
    done
    if [ "$from" != top ] && grep -q '^#include "\(server\|ember_config\)\.h"' "$f"
    then
        if grep -q '^#include "server\.h"' "$f"; then
            echo "$f: includes server.h from below it"
            bad=1
        fi
    fi
done
for f in modules/*/*.c modules/*/*.h; do
    [ -f "$f" ] || continue
    if grep -n '^#include "\.\./\|core/' "$f" | grep -q include; then
        echo "$f: a module includes from the core"
        bad=1
    fi
done
[ $bad = 0 ] && echo "layers: every include points down"
exit $bad
