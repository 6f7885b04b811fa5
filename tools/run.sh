#!/bin/sh
# `make run`: a development instance under var/ for the domain localhost,
# then emberd in the foreground.  Usage: tools/run.sh BUILD_DIR
set -e
b=${1:-build}
if [ ! -f var/ember.xml ]; then
    "$b/emberctl" init var --domain localhost --plugins "$b/modules"
    echo "wrote var/ember.xml; add a user with:"
    echo "  $b/emberctl -c var/ember.xml adduser alice@localhost"
fi
# Started as root, emberd binds its ports and then runs as the user ember.
if [ "$(id -u)" = 0 ]; then
    tools/ember-user.sh var
fi
exec "$b/emberd" -c var/ember.xml
