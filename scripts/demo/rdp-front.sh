#!/bin/bash
# rdp-front.sh [STATE_DIR] - the demo's RDP endpoint: xrdp on 127.0.0.1:$DEMO_RDP_PORT fronting the VNC
# display of the rdp pool's running desktop (started and supervised by scripts/demo.sh).
#
# Why: the demo golden image boots in seconds because it is only a kernel and busybox; it
# has no RDP server of its own (images/desktop has one, but takes minutes to build). The
# pool's RDP endpoint is the spec's rdp_port on the display host (docs/hypervisor.md:
# rdp_host), so this loop keeps one xrdp there whose "vnc-any" session is the desktop's
# live VNC display (port and password read from libvirt with --security-info, like the
# xrdp fixture of tests/support does for a guest). When the pool replaces the desktop
# (logoff refresh, recreate) the loop follows within a second. One desktop per pool: one
# port per pool is all the pool's spec gives today.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DEMO_STATE=${1:-${DEMO_STATE:-}}
: "${DEMO_STATE:?}" "${DEMO_PREFIX:?}" "${DEMO_RDP_PORT:?}"
dir=$DEMO_STATE/rdp
mkdir -p "$dir" /run/xrdp/sockdir
[ -f "$dir/cert.pem" ] || openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -days 825 -subj /CN=127.0.0.1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
cur=""
trap 'demo_stop xrdp 5; exit 0' TERM INT
while :; do
    d=$(virsh -q -c qemu:///system list --name 2>/dev/null | grep "^${DEMO_PREFIX}rdp-" | head -n 1 || true)
    key=""
    if [ -n "$d" ]; then
        g=$(virsh -q -c qemu:///system dumpxml --security-info "$d" 2>/dev/null | grep "<graphics type='vnc'" | head -n 1 || true)
        port=$(printf '%s' "$g" | sed -n "s/.* port='\([0-9]*\)'.*/\1/p")
        pw=$(printf '%s' "$g" | sed -n "s/.* passwd='\([^']*\)'.*/\1/p")
        [ -n "$port" ] && [ "$port" != -1 ] && key="$d:$port:$(printf '%s' "$pw" | sha256sum | cut -c1-16)"
    fi
    if [ "$key" != "$cur" ]; then
        demo_stop xrdp 5
        if [ -n "$key" ]; then
            sh "$(dirname "$0")/../fixtures/xrdp-ini.sh" "$dir/xrdp.ini" "$dir" "$DEMO_RDP_PORT" \
                "$port" "$pw" true
            demo_spawn xrdp xrdp --nodaemon --config "$dir/xrdp.ini"
            demo_pid_comm xrdp xrdp
            echo "rdp-front: xrdp on 127.0.0.1:$DEMO_RDP_PORT -> $d VNC 127.0.0.1:$port"
        else
            echo "rdp-front: no running desktop in the rdp pool yet"
        fi
        cur=$key
    fi
    sleep 1 &
    wait $! || true
done
