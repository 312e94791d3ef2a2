#!/bin/sh
# npm-deps.sh - install the browser clients (web/) and the e2e driver (tests/e2e/) from
# their lockfiles. Quick when node_modules already matches the lockfile.
set -eu
cd "$(dirname "$0")/.."
for d in web tests/e2e; do
    [ -f "$d/package-lock.json" ] || continue
    stamp="$d/node_modules/.portico-lock"
    if [ -f "$stamp" ] && cmp -s "$d/package-lock.json" "$stamp"; then
        continue
    fi
    echo "npm-deps: npm ci in $d"
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$d/package-lock.json" "$stamp"
done
