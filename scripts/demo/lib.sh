# shellcheck shell=bash
# lib.sh - helpers of scripts/demo.sh (sourced, bash). What lives here: process
# spawning and stopping by pid, the generated TLS material and keys, the demo directory's
# LDIF with passwords made on first run, config rendering and the readiness probes.
#
# Every process the demo starts runs detached in its own process group (setsid) with its
# pid in $DEMO_STATE/pids/NAME.pid and its output in $DEMO_STATE/logs/NAME.log, so a stop
# (ours, or `demo.sh --stop` after a crash) can end exactly those and nothing else.

demo_say() { printf 'demo: %s\n' "$*"; }
demo_die() {
    printf 'demo: error: %s\n' "$*" >&2
    exit 1
}
demo_now_ms() { date +%s%3N; }

demo_alive() { # PID -> running and not a zombie
    [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

demo_listening() { # PORT -> something listens on it
    ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

demo_free_port() { # a port in 20000-31999 that nothing listens on
    local p
    for _ in $(seq 1 200); do
        p=$(shuf -i 20000-31999 -n 1)
        demo_listening "$p" || {
            echo "$p"
            return 0
        }
    done
    demo_die "no free port in 20000-31999"
}

# demo_spawn NAME CMD...: start CMD detached (own session), pid in pids/NAME.pid
demo_spawn() {
    local name=$1
    shift
    mkdir -p "$DEMO_STATE/pids" "$DEMO_STATE/logs"
    setsid "$@" </dev/null >>"$DEMO_STATE/logs/$name.log" 2>&1 &
    echo $! >"$DEMO_STATE/pids/$name.pid"
}

demo_pid() { cat "$DEMO_STATE/pids/$1.pid" 2>/dev/null || true; }

# demo_wait_port NAME PORT TIMEOUT_S: until PORT listens while NAME runs
demo_wait_port() {
    local pid deadline
    pid=$(demo_pid "$1")
    deadline=$(($(date +%s) + $3))
    until demo_listening "$2"; do
        if ! demo_alive "$pid"; then
            tail -n 20 "$DEMO_STATE/logs/$1.log" >&2
            demo_die "$1 exited before listening on port $2 (log $DEMO_STATE/logs/$1.log)"
        fi
        [ "$(date +%s)" -lt "$deadline" ] || demo_die "$1 did not listen on port $2 within $3 s (log $DEMO_STATE/logs/$1.log)"
        sleep 0.05
    done
}

# demo_stop NAME [WAIT_S]: SIGTERM the process group, wait, then SIGKILL. Only the pid we
# recorded, and only if it still is the program we started (pids are reused).
demo_stop() {
    local name=$1 wait_s=${2:-10} pid comm
    pid=$(demo_pid "$name")
    [ -n "$pid" ] || return 0
    if demo_alive "$pid"; then
        comm=$(cat "$DEMO_STATE/pids/$name.comm" 2>/dev/null || true)
        if [ -n "$comm" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$comm" ]; then
            rm -f "$DEMO_STATE/pids/$name.pid"
            return 0
        fi
        kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 $((wait_s * 20))); do
            demo_alive "$pid" || break
            sleep 0.05
        done
        if demo_alive "$pid"; then
            demo_say "$name (pid $pid) did not stop within ${wait_s} s: SIGKILL"
            kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$DEMO_STATE/pids/$name.pid" "$DEMO_STATE/pids/$name.comm"
}

# demo_pid_comm NAME COMM: remember the program's name (as /proc/PID/comm shows it, 15
# characters at most) so a later stop never kills a process that reused the pid
demo_pid_comm() { echo "$2" >"$DEMO_STATE/pids/$1.comm"; }

demo_random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# A password people can type: 4 groups of 4 lower-case letters and digits.
demo_password() {
    local s
    s=$(tr -dc 'a-hj-km-np-z2-9' </dev/urandom | head -c 16)
    echo "${s:0:4}-${s:4:4}-${s:8:4}-${s:12:4}"
}

# demo_tls DIR: a demo CA and one server certificate (127.0.0.1, localhost, the host
# name) used by both the broker and the gateway, made once. One certificate for both
# ports means a browser that accepted it for the portal also accepts the gateway's
# WebSocket (or import DIR/ca.crt once).
demo_tls() {
    local d=$1 host
    [ -s "$d/server.crt" ] && [ -s "$d/server.key" ] && return 0
    mkdir -p "$d"
    chmod 700 "$d"
    host=$(hostname 2>/dev/null || echo localhost)
    (
        cd "$d"
        umask 077
        openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 825 \
            -subj '/CN=Portico demo CA' -keyout ca.key -out ca.crt \
            -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
        printf '%s\n' basicConstraints=CA:FALSE extendedKeyUsage=serverAuth \
            keyUsage=critical,digitalSignature \
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:$host${DEMO_EXTRA_SAN:+,$DEMO_EXTRA_SAN}" >server.ext
        openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -subj '/CN=Portico demo' -keyout server.key -out server.csr 2>/dev/null
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
            -extfile server.ext -out server.crt 2>/dev/null
        rm -f server.csr
        chmod 644 ca.crt server.crt
    ) || demo_die "could not make TLS material in $d"
}

# demo_keys DIR: the broker's Ed25519 ticket key, the gateway's X25519 sealing key and
# the shared secret for tunnel reports. Made here (not by the daemons on first start)
# because each daemon needs the other's public half before it starts.
demo_keys() {
    local d=$1
    mkdir -p "$d"
    chmod 700 "$d"
    (
        umask 077
        cd "$d"
        if ! [ -s ticket.key ]; then
            openssl genpkey -algorithm ED25519 -out ticket.key 2>/dev/null
            openssl pkey -in ticket.key -pubout -out ticket.key.pub 2>/dev/null
        fi
        if ! [ -s gateway-sealing.key ]; then
            openssl genpkey -algorithm X25519 -out gateway-sealing.key 2>/dev/null
            openssl pkey -in gateway-sealing.key -pubout -out gateway-sealing.key.pub 2>/dev/null
        fi
        [ -s gateway.secret ] || demo_random_hex 32 >gateway.secret
        chmod 644 ticket.key.pub gateway-sealing.key.pub
    ) || demo_die "could not make keys in $d"
}

# demo_logins FILE: the demo accounts, passwords made on the first run (mode 0600).
# Prints "new" when it made them (so they are shown in full once).
demo_logins() {
    local f=$1
    [ -s "$f" ] && return 0
    (
        umask 077
        {
            echo "# Portico demo logins (made on first run; delete this file to get new ones)"
            echo "alice $(demo_password) user"
            echo "bob $(demo_password) user"
            echo "admin $(demo_password) admin"
        } >"$f"
    )
    echo new
}

# demo_ldif LOGINS OUT: the demo directory (people, groups) with {SSHA} hashes.
demo_ldif() {
    local logins=$1 out=$2 base=dc=example,dc=org user pw role hash
    (
        umask 077
        {
            printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: Portico demo\ndc: example\n\n' "$base"
            printf 'dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n' "$base"
            printf 'dn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups\n\n' "$base"
            while read -r user pw role; do
                case $user in '' | '#'*) continue ;; esac
                hash=$(slappasswd -h '{SSHA}' -s "$pw")
                printf 'dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: Demo\ndisplayName: %s (demo)\nuserPassword: %s\n\n' \
                    "$user" "$base" "$user" "$user" "${user^}" "$hash"
            done <"$logins"
            printf 'dn: cn=demo-users,ou=groups,%s\nobjectClass: groupOfNames\ncn: demo-users\n' "$base"
            while read -r user pw role; do
                case $user in '' | '#'*) continue ;; esac
                printf 'member: uid=%s,ou=people,%s\n' "$user" "$base"
            done <"$logins"
            printf '\ndn: cn=portico-admins,ou=groups,%s\nobjectClass: groupOfNames\ncn: portico-admins\n' "$base"
            while read -r user pw role; do
                [ "$role" = admin ] && printf 'member: uid=%s,ou=people,%s\n' "$user" "$base"
            done <"$logins"
            echo
        } >"$out"
    )
}

# demo_render IN OUT VAR...: copy IN to OUT replacing @VAR@ by the shell variable's value
demo_render() {
    local in=$1 out=$2 v val
    shift 2
    cp "$in" "$out.tmp"
    for v in "$@"; do
        val=${!v}
        val=${val//\\/\\\\}
        val=${val//|/\\|}
        val=${val//&/\\&}
        sed -i "s|@$v@|$val|g" "$out.tmp"
    done
    if grep -q '@[A-Z_]*@' "$out.tmp"; then
        demo_die "unreplaced placeholder in $out: $(grep -o '@[A-Z_]*@' "$out.tmp" | head -n 1)"
    fi
    mv "$out.tmp" "$out"
}

# demo_metric NAME LABELS: the value of one series of the broker's /metrics (0 if absent)
demo_metrics_fetch() {
    curl -s --max-time 3 --cacert "$DEMO_STATE/tls/ca.crt" \
        "https://127.0.0.1:$DEMO_PORT/metrics" 2>/dev/null || true
}
demo_metric() { # TEXT NAME LABELS
    local v
    v=$(printf '%s\n' "$1" | grep -F "$2{$3}" | head -n 1 | awk '{print $2}')
    echo "${v:-0}" | cut -d. -f1
}

# demo_domains: our libvirt domains (by prefix), running or not
demo_domains() {
    virsh -q -c qemu:///system list --all --name 2>/dev/null | grep "^$DEMO_PREFIX" || true
}

# demo_booted POOL: how many of POOL's running guests wrote their "ready" line on the
# serial console (the demo image's init prints "PORTICO-DEMO: ready" once its screen is
# drawn; the log is truncated at each guest start)
demo_booted() {
    local n=0 d
    for d in $(virsh -q -c qemu:///system list --name 2>/dev/null | grep "^$DEMO_PREFIX$1-" || true); do
        grep -q 'PORTICO-DEMO: ready' "/var/log/libvirt/qemu/$d-serial.log" 2>/dev/null && n=$((n + 1))
    done
    echo "$n"
}

# demo_guests_remove: destroy, undefine and delete the overlays of every domain with our
# prefix. Called after the broker has stopped, before libvirtd stops.
demo_guests_remove() {
    local d ov n=0
    for d in $(demo_domains); do
        ov=$(virsh -q -c qemu:///system dumpxml "$d" 2>/dev/null |
            sed -n "s/.*<source file='\([^']*\)'.*/\1/p" | head -n 1)
        virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
        virsh -q -c qemu:///system undefine --managed-save --snapshots-metadata "$d" >/dev/null 2>&1 ||
            virsh -q -c qemu:///system undefine "$d" >/dev/null 2>&1 || true
        if [ -n "$ov" ] && [ "$ov" != "$DEMO_STATE/images/demo.qcow2" ]; then
            virsh -q -c qemu:///system vol-delete "$ov" >/dev/null 2>&1 || rm -f "$ov"
        fi
        n=$((n + 1))
    done
    echo "$n"
}
