#!/bin/sh
# build-demo-image.sh OUT.qcow2 - build (or reuse) the Portico demo desktop golden disk.
#
# The demo image must exist seconds after a fresh clone, so it is not an installed OS:
# it is a small bootable FAT disk (syslinux boot sector, no partition table) holding
# Debian's own kernel (linux-image-amd64, unpacked with dpkg-deb, never installed on the
# host) and an initramfs of busybox-static whose init draws a "Portico demo desktop
# <hostname>" screen with a shell on tty1, mirrors it on ttyS0, configures the NIC by DHCP
# and serves HTTP on 80 and TCP echo on 7 (so port forwarding can be checked). Each clone
# takes its hostname from the SMBIOS serial set by the domain template
# (images/demo/domain.xml.in). No root mounts, no loop devices, no network but the apt
# mirror: mkfs.fat + mtools + syslinux --install work on a plain file.
#
# Caching: OUT is rebuilt only when an input changes. The inputs are this script, every
# file under images/demo/, and the exact Debian versions of the kernel, busybox-static and
# syslinux. Their digest is kept in OUT.inputs; the kernel .deb and its unpacked files
# are kept under the cache directory. OUT is replaced atomically (rename), so running
# clones keep their open backing file.
#
# Env: PORTICO_IMAGE_CACHE (default /var/cache/portico/images), PORTICO_DEMO_KERNEL_DEB
# (use this kernel .deb instead of asking apt), PORTICO_IMAGE_FORCE=1 (rebuild anyway).
# Exit 0 and print "demo-image: OUT (cached|built in N ms)"; non-zero with a reason.
set -eu

usage() {
    echo "usage: $0 OUT.qcow2" >&2
    exit 2
}
[ $# -eq 1 ] || usage
out=$1
case $out in
*.qcow2) ;;
*) usage ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src="$root/images/demo"
cache=${PORTICO_IMAGE_CACHE:-/var/cache/portico/images}
t0=$(date +%s%N)

die() {
    echo "demo-image: $*" >&2
    exit 1
}
log() { echo "demo-image: $*" >&2; }

for tool in busybox cpio gzip mkfs.fat mcopy syslinux qemu-img dpkg-deb dpkg-query sha256sum; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found: run scripts/install-deps.sh (packages busybox-static cpio dosfstools mtools syslinux qemu-utils)"
done
# The initramfs needs a static busybox: the dynamic one would need libc in the image.
bb=/bin/busybox
[ -x "$bb" ] || die "$bb missing: apt-get install busybox-static"
file_out=$(od -An -c -N 4 "$bb" | tr -d ' ')
[ "$file_out" = '177ELF' ] || die "$bb is not an ELF binary"
if ldd "$bb" >/dev/null 2>&1; then
    die "$bb is dynamically linked: install busybox-static (not busybox)"
fi

mkdir -p "$cache" "$(dirname "$out")"
cache=$(cd "$cache" && pwd)
# Parallel callers (tests, the demo) share the cache: one builds, the others wait and then
# find the result cached. 8>&-: nothing we start may keep the lock.
exec 8>"$cache/.demo-image.lock"
flock -w 300 8 || die "could not take $cache/.demo-image.lock within 300 s"

# --- which kernel ------------------------------------------------------------------------
if [ -n "${PORTICO_DEMO_KERNEL_DEB:-}" ]; then
    deb=$PORTICO_DEMO_KERNEL_DEB
    [ -f "$deb" ] || die "PORTICO_DEMO_KERNEL_DEB=$deb does not exist"
else
    # linux-image-amd64 is a metapackage: follow it to the real image package. apt-cache
    # takes ~1 s here (no pkgcache.bin), so the answer is remembered per state of apt's lists.
    lists=$(ls -l --time-style=+%s /var/lib/apt/lists 2>/dev/null | sha256sum | cut -c1-16)
    kpkg="" kver=""
    if [ -f "$cache/kernel.resolved" ]; then
        read -r l kpkg kver <"$cache/kernel.resolved" || true
        [ "$l" = "$lists" ] || kpkg="" kver=""
    fi
    if [ -z "$kpkg" ]; then
        dep=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
            sed -n 's/^Depends: \(linux-image-[0-9][^ ,]*\) (= \([^)]*\)).*/\1 \2/p' | head -n1)
        kpkg=${dep% *} kver=${dep#* }
        [ -n "$dep" ] && echo "$lists $kpkg $kver" >"$cache/kernel.resolved"
    fi
    deb=""
    if [ -n "$kpkg" ] && [ -n "$kver" ] && [ "$kver" != "(none)" ]; then
        fname="${kpkg}_$(printf '%s' "$kver" | sed 's/:/%3a/')_amd64.deb"
        for d in "$cache/debs" /var/cache/apt/archives; do
            [ -f "$d/$fname" ] && { deb="$d/$fname"; break; }
        done
        if [ -z "$deb" ]; then
            log "downloading $kpkg $kver"
            mkdir -p "$cache/debs"
            (cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$kpkg=$kver" >/dev/null) ||
                die "apt-get download $kpkg=$kver failed (is the apt mirror reachable? try apt-get update)"
            deb="$cache/debs/$fname"
            [ -f "$deb" ] || die "apt-get download did not produce $fname"
        fi
    else
        # No apt metadata (offline, or no update yet): reuse the newest kernel we have.
        deb=$(ls -t "$cache"/debs/linux-image-*-amd64_*.deb 2>/dev/null | head -n1 || true)
        [ -n "$deb" ] || die "cannot find linux-image-amd64 in apt (run apt-get update) and no cached kernel under $cache/debs"
        log "apt knows no linux-image-amd64; reusing $(basename "$deb")"
    fi
fi

# --- input digest: rebuild only when something that goes into the image changed ----------
inputs=$(
    {
        sha256sum "$0"
        find "$src" -type f | LC_ALL=C sort | xargs sha256sum
        echo "kernel $(basename "$deb")"
        dpkg-query -W -f='${Package} ${Version}\n' busybox-static syslinux syslinux-common 2>/dev/null
    } | sed "s#$root/##" | sha256sum | cut -c1-16
)
if [ "${PORTICO_IMAGE_FORCE:-0}" != 1 ] && [ -f "$out" ] && [ -f "$out.inputs" ] &&
    [ "$(cat "$out.inputs")" = "$inputs" ]; then
    echo "demo-image: $out (cached, inputs $inputs)"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/portico-demo-image.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# --- kernel and the few modules the init loads (unpacked once per kernel version) --------
# Debian builds virtio and the NIC drivers as modules; this is their load order (deps first).
mods="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover
 net_failover virtio_net e1000"
kdir="$cache/kernel-$(basename "$deb" .deb)-$(echo $mods | sha256sum | cut -c1-8)"
if [ ! -f "$kdir/.done" ]; then
    log "unpacking $(basename "$deb")"
    rm -rf "$kdir" && mkdir -p "$kdir/x"
    pats=""
    for m in $mods; do pats="$pats */$m.ko"; done
    # shellcheck disable=SC2086
    dpkg-deb --fsys-tarfile "$deb" 8>&- | tar -x -C "$kdir/x" --wildcards './boot/vmlinuz-*' $pats ||
        die "could not unpack $deb"
    mv "$kdir"/x/boot/vmlinuz-* "$kdir/vmlinuz"
    mkdir -p "$kdir/modules"
    find "$kdir/x" -name '*.ko' -exec mv {} "$kdir/modules/" \;
    rm -rf "$kdir/x"
    for m in $mods; do
        [ -f "$kdir/modules/$m.ko" ] || die "module $m.ko not found in $deb"
    done
    touch "$kdir/.done"
fi

# --- initramfs -----------------------------------------------------------------------------
ir="$work/initramfs"
mkdir -p "$ir/bin" "$ir/sbin" "$ir/etc" "$ir/lib/modules" "$ir/proc" "$ir/sys" "$ir/dev" \
    "$ir/tmp" "$ir/run" "$ir/root" "$ir/var/log"
cp "$bb" "$ir/bin/busybox"
for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$ir/bin/$applet"
done
ln -s bin/busybox "$ir/init"
cp -R "$src/rootfs/." "$ir/"
cp "$kdir"/modules/*.ko "$ir/lib/modules/"
echo $mods >"$ir/etc/modules.order"
echo "root:x:0:0:root:/root:/bin/sh" >"$ir/etc/passwd"
echo "root:x:0:" >"$ir/etc/group"
(cd "$ir" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6) >"$work/initrd.gz"

# --- bootable FAT disk: syslinux boot sector in sector 0, no partition table ----------------
ksz=$(stat -c %s "$kdir/vmlinuz")
isz=$(stat -c %s "$work/initrd.gz")
size_kib=$(((ksz + isz) / 1024 + 4096))
raw="$work/disk.raw"
mkfs.fat -C -n PORTICODEMO "$raw" "$size_kib" >/dev/null
export MTOOLS_SKIP_CHECK=1
mcopy -i "$raw" "$kdir/vmlinuz" ::/vmlinuz
mcopy -i "$raw" "$work/initrd.gz" ::/initrd.gz
mcopy -i "$raw" "$src/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$raw"

tmp_out="$out.tmp.$$"
qemu-img convert -q -f raw -O qcow2 "$raw" "$tmp_out" 8>&-
mv -f "$tmp_out" "$out"
echo "$inputs" >"$out.inputs"
t1=$(date +%s%N)
echo "demo-image: $out (built in $(((t1 - t0) / 1000000)) ms, inputs $inputs, kernel $(basename "$deb" .deb))"
