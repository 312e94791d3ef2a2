#!/bin/sh
# reap.sh DIR - stop every process whose pid file lies under DIR (fixtures write
# DIR/*/pids/NAME-PID.pid). Used before and after a test run so a killed run leaves nothing.
# A pid file older than its process means the pid was reused by something else: skip it.
set -u
dir=${1:?usage: reap.sh DIR}
[ -d "$dir" ] || exit 0
btime=$(awk '/^btime/ {print $2}' /proc/stat)
hz=$(getconf CLK_TCK)
find "$dir" -path '*/pids/*.pid' -type f 2>/dev/null | while read -r f; do
    pid=$(cat "$f" 2>/dev/null)
    case "$pid" in '' | *[!0-9]*) rm -f "$f"; continue ;; esac
    if [ -r "/proc/$pid/stat" ]; then
        # field 22 of /proc/PID/stat is the start time in ticks since boot; the command
        # name (field 2) may hold spaces, so cut after its closing parenthesis.
        ticks=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $20}')
        started=$((btime + ticks / hz))
        written=$(stat -c %Y "$f")
        if [ "$started" -le $((written + 2)) ]; then
            kill -TERM "$pid" 2>/dev/null
            sleep 0.2
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    rm -f "$f"
done
exit 0
