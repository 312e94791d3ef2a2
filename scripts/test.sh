#!/bin/sh
# test.sh - install what is missing, build with sanitizers, run every test.
#
#   sudo scripts/test.sh            # as in the README; CI runs exactly this (.ci/run)
#
# Env: BUILD_DIR (default build-test), PORTICO_TEST_JOBS (default 2), CTEST_ARGS (extra).
# Benchmarks (label bench) are never run here; see bench/README.md.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=${BUILD_DIR:-build-test}
jobs=${PORTICO_TEST_JOBS:-2}
t0=$(date +%s)

sh scripts/install-deps.sh
sh scripts/npm-deps.sh

# Per-run scratch space for fixtures; leftovers of a killed run are reaped here.
export PORTICO_TEST_TMP="${PORTICO_TEST_TMP:-/var/tmp/portico-test}"
mkdir -p "$PORTICO_TEST_TMP"
sh scripts/reap.sh "$PORTICO_TEST_TMP" || true

# libvirtd's first start probes QEMU for ~8 s: start it now so it overlaps the build.
libvirtd_log="$PORTICO_TEST_TMP/libvirtd-start.log"
sh scripts/libvirtd.sh start >"$libvirtd_log" 2>&1 &
lv_pid=$!
cleanup() {
    sh "$root/scripts/libvirtd.sh" stop >/dev/null 2>&1 || true
    sh "$root/scripts/reap.sh" "$PORTICO_TEST_TMP" || true
}
trap cleanup EXIT INT TERM

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DPORTICO_WERROR=ON \
    -DPORTICO_SANITIZE=address,undefined >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$jobs"

if ! wait "$lv_pid"; then
    echo "test.sh: libvirtd did not start:" >&2
    cat "$libvirtd_log" >&2
    exit 1
fi

cd "$build"
# shellcheck disable=SC2086
ctest -LE bench --output-on-failure -j"$jobs" ${CTEST_ARGS:-}
rc=$?
echo "test.sh: finished in $(($(date +%s) - t0)) s (root $root)"
exit $rc
