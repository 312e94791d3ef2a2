#!/bin/sh
# libvirtd.sh start|stop|status - a system libvirtd (root, no systemd) for tests and demo.
#
# Settings are LAB.md 1(b): tests/data/libvirt/qemu.conf is installed as
# /etc/libvirt/qemu.conf, tests/data/libvirt/libvirtd.conf is passed with -f. The pid file
# and the log live in ${PORTICO_STATE:-/var/tmp/portico}/libvirtd/.
#
#   start   idempotent: returns once `virsh -c qemu:///system version` answers. A libvirtd
#           that is already answering (ours or not) is left alone. The cold start probes
#           QEMU for ~8 s; later starts take ~0.1 s (capabilities are cached).
#   stop    only stops the libvirtd that `start` launched (pid file): destroys every
#           running domain first (QEMU outlives libvirtd), then SIGTERM by pid.
#           PORTICO_LIBVIRTD_KEEP=1 makes it a no-op (a machine shared by several runs).
#   status  exit 0 if qemu:///system answers, 3 if not.
#
# Concurrent calls (test.sh in the background, tests via tf_libvirtd_ensure()) are
# serialised by flock on the state directory's lock file, so libvirtd starts once.
set -eu
cmd=${1:-}
root=$(cd "$(dirname "$0")/.." && pwd)
state=${PORTICO_STATE:-/var/tmp/portico}/libvirtd
uri=qemu:///system
pidfile=$state/libvirtd.pid
timeout_s=${PORTICO_LIBVIRTD_TIMEOUT:-90}

answers() { virsh -c "$uri" version >/dev/null 2>&1; }

# running PID: alive and not a zombie (PID 1 may never reap an orphaned daemon)
alive() {
    [ -r "/proc/$1/stat" ] || return 1
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

our_pid() {
    p=$(cat "$pidfile" 2>/dev/null || true)
    case "$p" in '' | *[!0-9]*) return 1 ;; esac
    alive "$p" || return 1
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = libvirtd ] || return 1
    echo "$p"
}

now_ms() { date +%s%3N; }

wait_answer() {
    deadline=$(($(date +%s) + timeout_s))
    until answers; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "libvirtd.sh: qemu:///system did not answer within ${timeout_s} s; log $state/libvirtd.log:" >&2
            tail -n 30 "$state/libvirtd.log" >&2 2>/dev/null || true
            return 1
        fi
        if [ -n "${1:-}" ] && ! alive "$1"; then
            echo "libvirtd.sh: libvirtd (pid $1) exited during start; log $state/libvirtd.log:" >&2
            tail -n 30 "$state/libvirtd.log" >&2 2>/dev/null || true
            return 1
        fi
        sleep 0.02
    done
}

lock() {
    mkdir -p "$state"
    exec 9>"$state/lock"
    flock -w "$timeout_s" 9 || {
        echo "libvirtd.sh: could not take $state/lock in ${timeout_s} s" >&2
        exit 1
    }
}

do_start() {
    if [ "$(id -u)" != 0 ]; then
        echo "libvirtd.sh: run as root (a system libvirtd serves qemu:///system)" >&2
        exit 1
    fi
    command -v libvirtd >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
    command -v libvirtd >/dev/null 2>&1 || {
        echo "libvirtd.sh: libvirtd not installed: run scripts/install-deps.sh" >&2
        exit 1
    }
    lock
    t0=$(now_ms)
    if answers; then
        p=$(our_pid || true)
        echo "libvirtd.sh: qemu:///system already answers (pid ${p:-not ours})"
        return 0
    fi
    # someone else's libvirtd that is still probing QEMU: wait for it, do not race it
    other=$(pgrep -x libvirtd 2>/dev/null | head -n 1 || true)
    if [ -n "$other" ] && alive "$other"; then
        echo "libvirtd.sh: waiting for the running libvirtd (pid $other) to answer"
        wait_answer "$other"
        return 0
    fi
    # the QEMU driver resolves this account before reading qemu.conf (LAB.md 1(b))
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
    getent passwd libvirt-qemu >/dev/null ||
        useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
    mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt/qemu /var/cache/libvirt
    cmp -s "$root/tests/data/libvirt/qemu.conf" /etc/libvirt/qemu.conf ||
        install -m 644 "$root/tests/data/libvirt/qemu.conf" /etc/libvirt/qemu.conf
    conf=$state/libvirtd.conf
    {
        cat "$root/tests/data/libvirt/libvirtd.conf"
        echo "log_outputs = \"3:file:$state/libvirtd.log\""
    } >"$conf.tmp"
    mv "$conf.tmp" "$conf"
    rm -f "$pidfile"
    # 9>&-: the daemon must not inherit (and hold forever) our lock
    libvirtd -d -f "$conf" -p "$pidfile" 9>&- >>"$state/libvirtd.out" 2>&1
    p=$(cat "$pidfile" 2>/dev/null || true)
    wait_answer "$p"
    echo "libvirtd.sh: libvirtd pid ${p:-?} answers on $uri after $(($(now_ms) - t0)) ms"
}

do_stop() {
    if [ "${PORTICO_LIBVIRTD_KEEP:-0}" = 1 ]; then
        echo "libvirtd.sh: PORTICO_LIBVIRTD_KEEP=1: leaving libvirtd running"
        return 0
    fi
    lock
    p=$(our_pid || true)
    if [ -z "$p" ]; then
        rm -f "$pidfile"
        echo "libvirtd.sh: no libvirtd started by this script is running"
        return 0
    fi
    t0=$(now_ms)
    # QEMU processes outlive libvirtd: destroy the guests first
    for d in $(virsh -c "$uri" list --name 2>/dev/null); do
        virsh -q -c "$uri" destroy "$d" >/dev/null 2>&1 || true
    done
    kill -TERM "$p" 2>/dev/null || true
    i=0
    while alive "$p"; do
        i=$((i + 1))
        if [ $i -gt 500 ]; then
            kill -KILL "$p" 2>/dev/null || true
            break
        fi
        sleep 0.02
    done
    rm -f "$pidfile"
    echo "libvirtd.sh: libvirtd pid $p stopped after $(($(now_ms) - t0)) ms"
}

do_status() {
    p=$(our_pid || true)
    if answers; then
        echo "libvirtd.sh: $uri answers (pid ${p:-not started by this script})"
        return 0
    fi
    echo "libvirtd.sh: $uri does not answer${p:+ (pid $p is running)}"
    return 3
}

case "$cmd" in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
