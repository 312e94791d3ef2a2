#!/bin/sh
# reap.sh DIR - stop every process whose pid file lies under DIR (fixtures write
# DIR/*/pids/NAME.pid). Used before and after a test run so a killed run leaves nothing.
set -u
dir=${1:?usage: reap.sh DIR}
[ -d "$dir" ] || exit 0
find "$dir" -path '*/pids/*.pid' -type f 2>/dev/null | while read -r f; do
    pid=$(cat "$f" 2>/dev/null)
    case "$pid" in '' | *[!0-9]*) rm -f "$f"; continue ;; esac
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        sleep 0.2
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$f"
done
exit 0
