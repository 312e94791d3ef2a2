#!/bin/sh
# guest-accel.sh DEMO.qcow2 - print the libvirt domain type guests should use here:
# "kvm" if a real guest kernel boots under KVM, else "qemu" (TCG).
#
# Why a boot and not just open("/dev/kvm"): on some hosts /dev/kvm opens and SeaBIOS runs,
# yet a stock Debian kernel hangs right after "Probing EDD" (seen on this project's
# Firecracker machines, whose host loads kvm_pvm). So this boots the demo golden image
# (scripts/images/build-demo-image.sh) with plain QEMU under KVM, no libvirt, and waits up
# to PORTICO_ACCEL_PROBE_S seconds (default 8; it boots in ~1-2 s under working KVM) for
# its "PORTICO-DEMO: ready" line on the serial port. The verdict is cached per host kernel,
# QEMU version and image in the cache directory, so only the first call pays.
#
# Env: PORTICO_GUEST_DOMAIN_TYPE=kvm|qemu forces the answer (no probe);
# PORTICO_IMAGE_CACHE (default /var/cache/portico/images). Progress goes to stderr.
set -eu
[ $# -eq 1 ] || {
    echo "usage: $0 DEMO.qcow2" >&2
    exit 2
}
img=$1
case ${PORTICO_GUEST_DOMAIN_TYPE:-} in
kvm | qemu)
    echo "$PORTICO_GUEST_DOMAIN_TYPE"
    exit 0
    ;;
esac
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
    echo "guest-accel: /dev/kvm not usable: TCG" >&2
    echo qemu
    exit 0
fi
[ -f "$img" ] || {
    echo "guest-accel: $img does not exist (build it with build-demo-image.sh)" >&2
    exit 1
}
cache=${PORTICO_IMAGE_CACHE:-/var/cache/portico/images}
mkdir -p "$cache"
key=$(printf '%s %s %s' "$(uname -r)" "$(qemu-system-x86_64 --version | head -n1)" \
    "$(cat "$img.inputs" 2>/dev/null || stat -c %Y "$img")" | sha256sum | cut -c1-16)
verdict="$cache/accel-$key"
if [ -f "$verdict" ]; then
    cat "$verdict"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/portico-accel.XXXXXX")
qpid=""
cleanup() {
    if [ -n "$qpid" ]; then
        kill -TERM "$qpid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
qemu-img create -q -f qcow2 -b "$(cd "$(dirname "$img")" && pwd)/$(basename "$img")" -F qcow2 \
    "$work/probe.qcow2"
qemu-system-x86_64 -accel kvm -m 160 -nodefaults -display none -vga none \
    -drive "file=$work/probe.qcow2,if=virtio" -serial "file:$work/serial.log" \
    -pidfile "$work/qemu.pid" -daemonize >"$work/qemu.out" 2>&1 || {
    echo "guest-accel: qemu -accel kvm failed to start: $(tail -n 2 "$work/qemu.out"): TCG" >&2
    echo qemu | tee "$verdict"
    exit 0
}
qpid=$(cat "$work/qemu.pid")
limit=$((${PORTICO_ACCEL_PROBE_S:-8} * 10))
i=0
ans=qemu
while [ $i -lt $limit ]; do
    if grep -q "PORTICO-DEMO: ready" "$work/serial.log" 2>/dev/null; then
        ans=kvm
        break
    fi
    i=$((i + 1))
    sleep 0.1
done
if [ "$ans" = kvm ]; then
    echo "guest-accel: the demo guest booted under KVM in $((i * 100)) ms: KVM" >&2
else
    echo "guest-accel: /dev/kvm opens but the demo guest did not boot under KVM in $((limit / 10)) s: TCG" >&2
fi
echo "$ans" | tee "$verdict"
