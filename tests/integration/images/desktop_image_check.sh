#!/bin/sh
# desktop_image_check.sh [IMAGE.qcow2] - manual (slow) check of the real desktop image.
#
# Not a ctest: the image takes minutes to build and a clone minutes to boot under TCG.
# Run it by hand (as root, libvirtd is started with scripts/libvirtd.sh):
#
#   sudo tests/integration/images/desktop_image_check.sh /var/lib/portico/images/desktop.qcow2
#
# It builds the image if needed (scripts/images/build-desktop-image.sh, cached), makes
# CLONES (default 2) overlay clones defined from images/desktop/domain.xml.in, boots them,
# and checks per clone: the "PORTICO-DESKTOP: ready" line on the serial console names the
# domain as hostname, machine-ids differ between clones, SPICE and VNC answer, and an RDP
# server (the guest's own xrdp) answers X.224 through the 127.0.0.1 port forward.
# With RDP_CLIENT=/path/to/client (called as CLIENT HOST PORT USER PASSWORD, e.g. the
# lab's rdpprobe) it also logs in over RDP. Screenshots land in $OUTDIR (default a temp
# dir, printed). KEEP=1 leaves the clones running for a look with a SPICE/VNC client.
# Env: CLONES, VCPUS (1), MEMORY_MIB (1536), BOOT_TIMEOUT_S (900), PORTICO_GUEST_DOMAIN_TYPE.
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
check="python3 $root/tests/integration/images/guestcheck.py"
img=${1:-/var/lib/portico/images/desktop.qcow2}
clones=${CLONES:-2}
dtype=${PORTICO_GUEST_DOMAIN_TYPE:-qemu}
V="virsh -q -c qemu:///system"
out=${OUTDIR:-$(mktemp -d /var/tmp/portico-desktop-check.XXXXXX)}
mkdir -p "$out"
sfx="$$"
names=""
now() { date +%s; }
t0=$(now)
say() { echo "desktop-check: [$(($(now) - t0)) s] $*"; }
fail() {
    say "FAIL: $*"
    exit 1
}
cleanup() {
    [ "${KEEP:-0}" = 1 ] && { say "KEEP=1: leaving$names running"; return; }
    for n in $names; do
        $V destroy "$n" >/dev/null 2>&1 || true
        $V undefine "$n" >/dev/null 2>&1 || true
        rm -f "$out/$n.qcow2"
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sh "$root/scripts/images/build-desktop-image.sh" "$img" || fail "image build"
sh "$root/scripts/libvirtd.sh" start >/dev/null || fail "libvirtd"
[ -r "$img.credentials" ] || fail "$img.credentials missing"
# shellcheck disable=SC1090
. "$img.credentials" # user=, password=

i=0
ports=$($check freeport "$clones")
for p in $ports; do
    i=$((i + 1))
    n="images-desk-$i-$sfx"
    qemu-img create -q -f qcow2 -b "$img" -F qcow2 "$out/$n.qcow2"
    sed -e "s#\${NAME}#$n#g" -e "s#\${DISK}#$out/$n.qcow2#g" -e 's#\${DISK_FORMAT}#qcow2#g' \
        -e "s#\${DOMAIN_TYPE}#$dtype#g" -e "s#\${MEMORY_MIB}#${MEMORY_MIB:-1536}#g" \
        -e "s#\${VCPUS}#${VCPUS:-1}#g" -e "s#\${RDP_PORT}#$p#g" \
        "$root/images/desktop/domain.xml.in" >"$out/$n.xml"
    $V define "$out/$n.xml" >/dev/null || fail "define $n"
    names="$names $n"
    echo "$p" >"$out/$n.rdpport"
done
tb=$(now)
for n in $names; do $V start "$n" >/dev/null || fail "start $n"; done
say "started$names (type $dtype)"

ids=""
for n in $names; do
    log="/var/log/libvirt/qemu/$n-serial.log"
    until grep -q "PORTICO-DESKTOP: ready" "$log" 2>/dev/null; do
        [ $(($(now) - tb)) -lt "${BOOT_TIMEOUT_S:-900}" ] || fail "$n: not ready in ${BOOT_TIMEOUT_S:-900} s"
        sleep 2
    done
    line=$(grep "PORTICO-DESKTOP: ready" "$log" | tail -n1)
    say "$n ready $(($(now) - tb)) s after start: $line"
    echo "$line" | grep -q "hostname=$n " || fail "$n: wrong hostname in '$line'"
    echo "$line" | grep -q "rdp=1" || fail "$n: xrdp not listening"
    ids="$ids $(echo "$line" | sed 's/.*machine-id=\([0-9a-f]*\).*/\1/')"
done
[ "$(echo $ids | tr ' ' '\n' | sort -u | wc -l)" = "$clones" ] || fail "machine-ids not unique:$ids"
say "hostnames match domain names; machine-ids unique:$ids"

for n in $names; do
    sp=$($V domdisplay --type spice "$n" | sed -n 's#^spice://127.0.0.1:\([0-9]*\).*#\1#p')
    vd=$($V domdisplay --type vnc "$n" | sed -n 's#^vnc://127.0.0.1:\([0-9]*\).*#\1#p')
    say "$n $($check spice "$sp") / $($check vnc $((5900 + vd)))"
    p=$(cat "$out/$n.rdpport")
    r=$(PROBE_WAIT=60 $check rdp "$p") || fail "$n: $r"
    say "$n 127.0.0.1:$p -> guest 3389: $r"
    $V screenshot "$n" "$out/$n-console.png" >/dev/null && say "$n console screenshot: $out/$n-console.png"
    if [ -n "${RDP_CLIENT:-}" ]; then
        if "$RDP_CLIENT" 127.0.0.1 "$p" "$user" "$password" >"$out/$n-rdp.log" 2>&1; then
            say "$n RDP login as $user: ok ($(grep -v -i password "$out/$n-rdp.log" | tail -n 2 | tr '\n' ' '))"
        else
            fail "$n RDP login failed, see $out/$n-rdp.log"
        fi
    fi
done
say "all checks passed; artefacts in $out"
