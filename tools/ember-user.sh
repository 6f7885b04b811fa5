#!/bin/sh
# The system user emberd runs as after binding its ports (<run-as>, default
# ember), and the directories it writes: the config's (setup and admin
# commands rewrite the file) and the data directory.
# Usage (as root): tools/ember-user.sh CONFIG_DIR [DATA_DIR]
set -e
if ! id ember >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin ember
fi
chgrp ember "$1"
chmod 2770 "$1"
for f in "$1"/*.xml; do
    [ -f "$f" ] && chgrp ember "$f" && chmod 660 "$f"
done
if [ -n "$2" ]; then
    install -d -o ember -g ember -m 700 "$2"
fi
