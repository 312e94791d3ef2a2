#!/bin/bash
# demo.sh - the whole Portico stack on this machine, from one command (issue 10).
#
# Installs what is missing, builds, then starts and supervises on 127.0.0.1: a throwaway
# slapd holding the demo directory, libvirtd (only if none answers), portico-broker and
# portico-gateway with generated TLS material and keys, a pool of VM desktops from the
# demo golden image kept warm (SPICE and VNC), and an RDP pool. It prints the URL and the
# logins, shows progress while the desktops warm up, prints "ready", and stops
# everything on Ctrl+C or SIGTERM: gateway, broker, then our guests (destroyed and
# undefined before libvirtd stops, and libvirtd only if this run started it), xrdp and
# slapd, each by the pid it recorded. docs/demo.md has the details.
#
#   scripts/demo.sh [--until-ready] [--no-build] [--no-rdp] [--state DIR] [--build DIR]
#   scripts/demo.sh --stop [--state DIR]
#
#   --until-ready  start, wait for "ready", print the summary, stop everything, exit 0
#                  (1 if not ready within PORTICO_DEMO_READY_TIMEOUT): for tests and timing
#   --no-build     skip install-deps, npm-deps and the build; use the binaries in the
#                  build directory as they are (tests point it at their own build)
#   --no-rdp       no RDP pool (no xrdp)
#   --stop         stop what a demo with this state directory left running (a running
#                  demo is asked to stop; after a crash its recorded pids are stopped)
#
# Env: PORTICO_DEMO_DIR (state, default /var/lib/portico-demo), PORTICO_DEMO_BUILD
# (default <repo>/build-demo), PORTICO_DEMO_LISTEN (127.0.0.1), PORTICO_DEMO_PORT (8443,
# 0 = a free port), PORTICO_DEMO_GW_PORT (8444, 0 = free), PORTICO_DEMO_WARM (2),
# PORTICO_DEMO_PREFIX (libvirt domain prefix, "demo-"), PORTICO_DEMO_READY_TIMEOUT
# (seconds, 600), PORTICO_GUEST_DOMAIN_TYPE=kvm|qemu (skip the KVM probe),
# PORTICO_IMAGE_CACHE (default <state>/cache/images), PORTICO_DEMO_BROKER (the broker
# binary; tests point it at another build).
set -euo pipefail

DEMO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$DEMO_ROOT/scripts/demo/lib.sh"

until_ready=0
no_build=0
with_rdp=1
do_stop=0
DEMO_STATE=${PORTICO_DEMO_DIR:-/var/lib/portico-demo}
DEMO_BUILD=${PORTICO_DEMO_BUILD:-$DEMO_ROOT/build-demo}
while [ $# -gt 0 ]; do
    case $1 in
    --until-ready) until_ready=1 ;;
    --no-build) no_build=1 ;;
    --no-rdp) with_rdp=0 ;;
    --stop) do_stop=1 ;;
    --state)
        DEMO_STATE=$2
        shift
        ;;
    --build)
        DEMO_BUILD=$2
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *) demo_die "unknown option $1 (see scripts/demo.sh --help)" ;;
    esac
    shift
done

[ "$(id -u)" = 0 ] || demo_die "run as root: it installs packages and runs a system libvirtd"
mkdir -p "$DEMO_STATE"
DEMO_STATE=$(cd "$DEMO_STATE" && pwd)
chmod 700 "$DEMO_STATE"
DEMO_LISTEN=${PORTICO_DEMO_LISTEN:-127.0.0.1}
# the domain prefix of the run that made this state directory wins, so --stop and the
# leftover cleanup find that run's guests
DEMO_PREFIX=${PORTICO_DEMO_PREFIX:-$(cat "$DEMO_STATE/domain-prefix" 2>/dev/null || echo demo-)}
[ -f "$DEMO_STATE/domain-prefix" ] && [ "$do_stop" = 1 ] && DEMO_PREFIX=$(cat "$DEMO_STATE/domain-prefix")
DEMO_WARM=${PORTICO_DEMO_WARM:-2}
# (DEMO_* values reach the config templates through demo_render's indirection)
# shellcheck disable=SC2034
DEMO_MAX=$((DEMO_WARM + 2))
ready_timeout=${PORTICO_DEMO_READY_TIMEOUT:-600}
export PORTICO_IMAGE_CACHE=${PORTICO_IMAGE_CACHE:-$DEMO_STATE/cache/images}
# libvirtd.sh keeps its pid file under $PORTICO_STATE/libvirtd: ours is in the state dir,
# so "stop" only ever stops a libvirtd that this demo started
export PORTICO_STATE=$DEMO_STATE/libvirt
t_start=$(demo_now_ms)
libvirtd_started=0
stopping=0

elapsed() { echo "$((($(demo_now_ms) - t_start) / 100))" | sed 's/\(.\)$/.\1/'; }

# --- stop --------------------------------------------------------------------------------

# Everything this state directory's demo may have running, in dependency order.
stop_all() {
    local n
    [ "$stopping" = 1 ] && return 0
    stopping=1
    trap '' INT TERM
    # best effort from here on: one failed step must not leave the rest running
    set +e
    # background steps still running (image build, libvirtd start) end with us
    kill $(jobs -p) 2>/dev/null
    demo_say "stopping (gateway, broker, guests, xrdp, slapd, libvirtd if ours)"
    demo_stop rdp-front 5
    demo_stop gateway 10
    demo_stop broker 30
    if virsh -c qemu:///system version >/dev/null 2>&1; then
        n=$(demo_guests_remove)
        [ "$n" = 0 ] || demo_say "destroyed and removed $n guest(s) named $DEMO_PREFIX*"
    fi
    demo_stop xrdp 5
    if [ -n "$(demo_pid slapd)" ] || [ -f "$DEMO_STATE/slapd/pids/slapd.pid" ]; then
        sh "$DEMO_ROOT/scripts/fixtures/slapd.sh" stop "$DEMO_STATE/slapd" || true
    fi
    if [ -f "$PORTICO_STATE/libvirtd/libvirtd.pid" ]; then
        PORTICO_LIBVIRTD_KEEP=0 sh "$DEMO_ROOT/scripts/libvirtd.sh" stop 2>&1 | sed 's/^/demo: /'
    fi
    rm -f "$DEMO_STATE/run.pid" "$DEMO_STATE/demo.env"
    demo_say "stopped after $(elapsed) s"
}

if [ "$do_stop" = 1 ]; then
    sup=$(cat "$DEMO_STATE/run.pid" 2>/dev/null || true)
    if demo_alive "$sup" && grep -q demo.sh "/proc/$sup/cmdline" 2>/dev/null; then
        demo_say "asking the running demo (pid $sup) to stop"
        kill -TERM "$sup"
        while demo_alive "$sup"; do sleep 0.1; done
        exit 0
    fi
    stop_all
    exit 0
fi

sup=$(cat "$DEMO_STATE/run.pid" 2>/dev/null || true)
if demo_alive "$sup" && grep -q demo.sh "/proc/$sup/cmdline" 2>/dev/null; then
    demo_die "a demo with state $DEMO_STATE is already running (pid $sup): use it, or stop it with Ctrl+C there or scripts/demo.sh --stop"
fi
# leftovers of a run that was killed without cleaning up (kill -9, power loss), under
# that run's domain prefix
want_prefix=$DEMO_PREFIX
DEMO_PREFIX=$(cat "$DEMO_STATE/domain-prefix" 2>/dev/null || echo "$want_prefix")
if ls "$DEMO_STATE"/pids/*.pid >/dev/null 2>&1 || [ -n "$(demo_domains 2>/dev/null)" ]; then
    demo_say "cleaning up what an earlier run left behind"
    stop_all
    stopping=0
    set -e
fi
DEMO_PREFIX=$want_prefix
echo $$ >"$DEMO_STATE/run.pid"
echo "$DEMO_PREFIX" >"$DEMO_STATE/domain-prefix"
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'rc=$?; [ $rc = 0 ] || stop_all' EXIT

# --- 1. install and build ----------------------------------------------------------------

step() { demo_say "[$(elapsed) s] $*"; }

if [ "$no_build" = 0 ]; then
    step "packages (scripts/install-deps.sh)"
    sh "$DEMO_ROOT/scripts/install-deps.sh"
    step "browser clients (scripts/npm-deps.sh)"
    sh "$DEMO_ROOT/scripts/npm-deps.sh"
fi
# libvirtd's first start probes QEMU for ~8 s: let it overlap with the build
step "libvirtd (scripts/libvirtd.sh start, in the background)"
(sh "$DEMO_ROOT/scripts/libvirtd.sh" start >"$DEMO_STATE/libvirtd-start.log" 2>&1; echo $? >"$DEMO_STATE/libvirtd-start.rc") &
lv_job=$!
# the golden image (download + unpack, mostly I/O) and the KVM probe overlap the build too
step "demo golden image and KVM probe (scripts/images/, in the background)"
mkdir -p "$DEMO_STATE/images" "$DEMO_STATE/logs"
(
    sh "$DEMO_ROOT/scripts/images/build-demo-image.sh" "$DEMO_STATE/images/demo.qcow2" >"$DEMO_STATE/logs/image.log" 2>&1 || exit 1
    sh "$DEMO_ROOT/scripts/images/guest-accel.sh" "$DEMO_STATE/images/demo.qcow2" >"$DEMO_STATE/accel" 2>"$DEMO_STATE/logs/accel.log" || exit 2
) &
img_job=$!
if [ "$no_build" = 0 ]; then
    step "build in $DEMO_BUILD (log $DEMO_STATE/logs/build.log)"
    mkdir -p "$DEMO_STATE/logs"
    {
        [ -f "$DEMO_BUILD/CMakeCache.txt" ] ||
            cmake -S "$DEMO_ROOT" -B "$DEMO_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo
        cmake --build "$DEMO_BUILD" -j2 --target portico-broker portico-gateway porticoctl portico_web
    } >"$DEMO_STATE/logs/build.log" 2>&1 || {
        tail -n 30 "$DEMO_STATE/logs/build.log" >&2
        demo_die "the build failed (log $DEMO_STATE/logs/build.log)"
    }
fi
BROKER=${PORTICO_DEMO_BROKER:-$DEMO_BUILD/broker/portico-broker}
GATEWAY=$DEMO_BUILD/gateway/portico-gateway
CTL=$DEMO_BUILD/cli/porticoctl
for b in "$BROKER" "$GATEWAY"; do
    [ -x "$b" ] || demo_die "$b is missing: build first (scripts/demo.sh without --no-build)"
done
DEMO_WEB_ROOT=$DEMO_BUILD/web
[ -f "$DEMO_WEB_ROOT/dist/index.html" ] || demo_say "warning: no web UI in $DEMO_WEB_ROOT/dist (web/build.sh): the portal page will be missing"

# --- 2. state: TLS, keys, logins, image ---------------------------------------------------

step "state in $DEMO_STATE"
mkdir -p "$DEMO_STATE"/{logs,pids,broker,gateway,images,slapd,rdp}
demo_tls "$DEMO_STATE/tls"
demo_keys "$DEMO_STATE/keys"
new_logins=$(demo_logins "$DEMO_STATE/logins")
demo_ldif "$DEMO_STATE/logins" "$DEMO_STATE/directory.ldif"

img_rc=0
wait "$img_job" || img_rc=$?
sed 's/^/demo:   /' "$DEMO_STATE/logs/image.log"
case $img_rc in
0) ;;
2) demo_die "could not decide between KVM and TCG (log $DEMO_STATE/logs/accel.log)" ;;
*) demo_die "the demo image was not built (log $DEMO_STATE/logs/image.log)" ;;
esac
[ -f "$DEMO_STATE/images/demo.qcow2" ] || demo_die "the demo image was not built"

# --- 3. ports ----------------------------------------------------------------------------

pick_port() { # VALUE DEFAULT
    local p=${1:-$2}
    [ "$p" = 0 ] && p=$(demo_free_port)
    demo_listening "$p" && demo_die "port $p is in use: stop what listens there (ss -ltnp 'sport = :$p') or choose another with PORTICO_DEMO_PORT / PORTICO_DEMO_GW_PORT (0 = any free port)"
    echo "$p"
}
DEMO_PORT=$(pick_port "${PORTICO_DEMO_PORT:-}" 8443)
DEMO_GW_PORT=$(pick_port "${PORTICO_DEMO_GW_PORT:-}" 8444)
[ "$DEMO_PORT" != "$DEMO_GW_PORT" ] || demo_die "the broker and the gateway need two different ports"
DEMO_RDP_PORT=$(demo_free_port)
case $DEMO_LISTEN in
0.0.0.0 | '::' | '[::]') DEMO_PUBLIC_HOST=${PORTICO_DEMO_PUBLIC_HOST:-$(hostname)} ;;
*) DEMO_PUBLIC_HOST=${PORTICO_DEMO_PUBLIC_HOST:-$DEMO_LISTEN} ;;
esac
DEMO_ORIGINS="https://$DEMO_PUBLIC_HOST:$DEMO_PORT https://localhost:$DEMO_PORT https://127.0.0.1:$DEMO_PORT"

# --- 4. slapd ----------------------------------------------------------------------------

step "directory: slapd on 127.0.0.1 (scripts/fixtures/slapd.sh)"
sh "$DEMO_ROOT/scripts/fixtures/slapd.sh" start "$DEMO_STATE/slapd" "$DEMO_STATE/directory.ldif" >"$DEMO_STATE/slapd.env" ||
    demo_die "slapd did not start (log $DEMO_STATE/slapd/slapd.log)"
DEMO_LDAP_URI=$(sed -n 's/^LDAPS_URI=//p' "$DEMO_STATE/slapd.env")

# --- 5. libvirtd, accel ------------------------------------------------------------------

wait "$lv_job" || true
[ "$(cat "$DEMO_STATE/libvirtd-start.rc" 2>/dev/null)" = 0 ] || {
    cat "$DEMO_STATE/libvirtd-start.log" >&2
    demo_die "libvirtd did not start (scripts/libvirtd.sh start)"
}
sed 's/^/demo:   /' "$DEMO_STATE/libvirtd-start.log"
[ -f "$PORTICO_STATE/libvirtd/libvirtd.pid" ] && libvirtd_started=1
DEMO_ACCEL=$(cat "$DEMO_STATE/accel")
case $DEMO_ACCEL in kvm | qemu) ;; *) demo_die "guest-accel.sh answered '$DEMO_ACCEL' (log $DEMO_STATE/logs/accel.log)" ;; esac
if [ "$DEMO_ACCEL" = kvm ]; then
    accel_text="KVM (a Debian kernel boots under /dev/kvm here)"
elif [ -e /dev/kvm ]; then
    accel_text="TCG, software emulation (/dev/kvm exists but a guest kernel does not boot under it here; PORTICO_GUEST_DOMAIN_TYPE=kvm forces KVM)"
else
    accel_text="TCG, software emulation (no usable /dev/kvm)"
fi
demo_say "guests run under $accel_text"

# --- 6. broker and gateway -----------------------------------------------------------------

DEMO_RDP_ENTITLEMENT=""
if [ "$with_rdp" = 1 ]; then
    DEMO_RDP_ENTITLEMENT="pool = demo-users:rdp"
fi
demo_render "$DEMO_ROOT/scripts/demo/broker.conf.in" "$DEMO_STATE/broker/broker.conf" \
    DEMO_LISTEN DEMO_PORT DEMO_STATE DEMO_WEB_ROOT DEMO_PUBLIC_HOST DEMO_GW_PORT \
    DEMO_LDAP_URI DEMO_RDP_ENTITLEMENT DEMO_PREFIX DEMO_ROOT DEMO_ACCEL DEMO_MAX DEMO_WARM
if [ "$with_rdp" = 1 ]; then
    demo_render "$DEMO_ROOT/scripts/demo/rdp-pool.conf.in" "$DEMO_STATE/broker/rdp-pool.conf" \
        DEMO_STATE DEMO_ROOT DEMO_ACCEL DEMO_RDP_PORT
    cat "$DEMO_STATE/broker/rdp-pool.conf" >>"$DEMO_STATE/broker/broker.conf"
fi
demo_render "$DEMO_ROOT/scripts/demo/gateway.conf.in" "$DEMO_STATE/gateway/gateway.conf" \
    DEMO_LISTEN DEMO_GW_PORT DEMO_STATE DEMO_ORIGINS DEMO_PORT
chmod 600 "$DEMO_STATE/broker/broker.conf" "$DEMO_STATE/gateway/gateway.conf"
"$BROKER" -n -c "$DEMO_STATE/broker/broker.conf" >/dev/null ||
    demo_die "the generated broker configuration was refused ($DEMO_STATE/broker/broker.conf)"
"$GATEWAY" -n -c "$DEMO_STATE/gateway/gateway.conf" >/dev/null ||
    demo_die "the generated gateway configuration was refused ($DEMO_STATE/gateway/gateway.conf)"

step "portico-broker on $DEMO_LISTEN:$DEMO_PORT"
demo_spawn broker "$BROKER" -c "$DEMO_STATE/broker/broker.conf"
demo_wait_port broker "$DEMO_PORT" 30
demo_pid_comm broker "$(basename "$BROKER" | cut -c1-15)"
step "portico-gateway on $DEMO_LISTEN:$DEMO_GW_PORT"
demo_spawn gateway "$GATEWAY" -c "$DEMO_STATE/gateway/gateway.conf"
demo_wait_port gateway "$DEMO_GW_PORT" 30
demo_pid_comm gateway "$(basename "$GATEWAY" | cut -c1-15)"
if [ "$with_rdp" = 1 ]; then
    step "RDP front: xrdp on 127.0.0.1:$DEMO_RDP_PORT follows the rdp pool's desktop (scripts/demo/rdp-front.sh)"
    export DEMO_STATE DEMO_PREFIX DEMO_RDP_PORT
    # the state directory as an argument too, so ps (and the e2e test) see whose it is
    demo_spawn rdp-front bash "$DEMO_ROOT/scripts/demo/rdp-front.sh" "$DEMO_STATE"
    demo_pid_comm rdp-front bash
fi

# --- 7. logins, URL, progress ------------------------------------------------------------

url="https://$DEMO_PUBLIC_HOST:$DEMO_PORT/"
# what this run uses, for people and tests (no secrets: the logins stay in their own file)
{
    echo "DEMO_URL=$url"
    echo "DEMO_PORT=$DEMO_PORT"
    echo "DEMO_GW_PORT=$DEMO_GW_PORT"
    echo "DEMO_RDP_PORT=$([ "$with_rdp" = 1 ] && echo "$DEMO_RDP_PORT")"
    echo "DEMO_LDAP_URI=$DEMO_LDAP_URI"
    sed -n 's/^LDAP_URI=/DEMO_LDAP_PLAIN_URI=/p' "$DEMO_STATE/slapd.env"
    echo "DEMO_PREFIX=$DEMO_PREFIX"
    echo "DEMO_ACCEL=$DEMO_ACCEL"
    echo "DEMO_CA=$DEMO_STATE/tls/ca.crt"
    echo "DEMO_LIBVIRTD_STARTED=$libvirtd_started"
} >"$DEMO_STATE/demo.env"
echo
echo "  Portico demo:  $url"
echo "  (certificate from the demo CA $DEMO_STATE/tls/ca.crt: import it, or accept the warning once)"
echo "  Logins (kept in $DEMO_STATE/logins, mode 0600):"
while read -r user pw role; do
    case $user in '' | '#'*) continue ;; esac
    if [ -n "$new_logins" ]; then
        printf '    %-6s %-20s %s\n' "$user" "$pw" "$([ "$role" = admin ] && echo "administrator (admin console, porticoctl)" || echo "desktop user")"
    else
        printf '    %-6s %-20s %s\n' "$user" "(see $DEMO_STATE/logins)" "$role"
    fi
done <"$DEMO_STATE/logins"
echo "  porticoctl:    $CTL --url https://127.0.0.1:$DEMO_PORT --ca $DEMO_STATE/tls/ca.crt login --user admin"
echo

pools="desktops:$DEMO_WARM"
[ "$with_rdp" = 1 ] && pools="$pools rdp:1"
last=""
deadline=$(($(date +%s) + ready_timeout))
while :; do
    m=$(demo_metrics_fetch)
    line=""
    all=1
    for pw in $pools; do
        p=${pw%%:*}
        want=${pw##*:}
        r=$(demo_metric "$m" portico_pool_desktops "pool=\"$p\",state=\"ready\"")
        b=$(demo_booted "$p")
        line="$line${line:+; }$p pool: $r/$want ready, $b/$want booted"
        { [ "$r" -ge "$want" ] && [ "$b" -ge "$want" ]; } || all=0
    done
    if [ "$line" != "$last" ]; then
        demo_say "[$(elapsed) s] $line"
        last=$line
    fi
    [ "$all" = 1 ] && break
    for n in broker gateway; do
        demo_alive "$(demo_pid $n)" || {
            tail -n 20 "$DEMO_STATE/logs/$n.log" >&2
            demo_die "$n exited (log $DEMO_STATE/logs/$n.log)"
        }
    done
    [ "$(date +%s)" -lt "$deadline" ] || demo_die "desktops not ready within $ready_timeout s (broker log $DEMO_STATE/logs/broker.log)"
    sleep 1
done
echo "$(elapsed)" >"$DEMO_STATE/last-ready-seconds"
demo_say "ready after $(elapsed) s: open $url"

if [ "$until_ready" = 1 ]; then
    stop_all
    trap - EXIT
    exit 0
fi

# --- 8. supervise until Ctrl+C -----------------------------------------------------------

demo_say "Ctrl+C stops everything"
while :; do
    for n in broker gateway; do
        if ! demo_alive "$(demo_pid $n)"; then
            tail -n 20 "$DEMO_STATE/logs/$n.log" >&2
            demo_say "$n exited unexpectedly (log $DEMO_STATE/logs/$n.log)"
            stop_all
            trap - EXIT
            exit 1
        fi
    done
    sleep 1 &
    wait $! || true
done
