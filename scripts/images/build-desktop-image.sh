#!/bin/sh
# build-desktop-image.sh OUT.qcow2 - build (or reuse) a real Linux desktop golden image.
#
# A Debian 12 system from the Debian archive (debootstrap minbase + images/desktop/packages):
# an XFCE session behind lightdm on the console (SPICE/VNC), xrdp + xorgxrdp serving RDP
# from inside the guest (RDP pools), spice-vdagent and qemu-guest-agent, systemd-networkd
# DHCP on any NIC, and portico-firstboot, which gives each clone its own hostname (from
# the SMBIOS serial the domain template sets), machine-id and xrdp keys.
#
# Disk layout, made without loop devices or mounts of the image: an MBR (syslinux mbr.bin)
# with partition 1 = FAT16 /boot (syslinux + Debian's kernel and initramfs, written with
# mtools) and partition 2 = ext4 root made from the build tree with `mkfs.ext4 -d`. The
# root file system is found by UUID. Kernel updates inside a clone do not reach the FAT
# partition: golden images are rebuilt, not upgraded.
#
# It takes minutes (debootstrap + ~350 packages); every step prints a progress line with
# the elapsed time, the details go to OUT.log. The result is cached: OUT.inputs holds the
# digest of this script, images/desktop/ and the apt lists' state, and a second run with
# the same inputs returns at once. Downloaded .debs and the installed package tree (as a
# tar, reused while the package list and apt lists are unchanged) stay in the cache dir.
#
# Needs root (debootstrap, chroot, /proc mounts inside the build tree only).
# Env: PORTICO_IMAGE_CACHE (default /var/cache/portico/images), PORTICO_DEBIAN_MIRROR
# (default: the host's apt mirror), PORTICO_DESKTOP_USER (default "portico"),
# PORTICO_DESKTOP_PASSWORD (default: generated; written to OUT.credentials, mode 600),
# PORTICO_DESKTOP_SIZE_GIB (root size, default 6), PORTICO_IMAGE_FORCE=1.
set -eu

usage() {
    echo "usage: $0 OUT.qcow2" >&2
    exit 2
}
[ $# -eq 1 ] || usage
out=$1
case $out in *.qcow2) ;; *) usage ;; esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src="$root/images/desktop"
cache=${PORTICO_IMAGE_CACHE:-/var/cache/portico/images}
suite=bookworm
user=${PORTICO_DESKTOP_USER:-portico}
size_gib=${PORTICO_DESKTOP_SIZE_GIB:-6}
t0=$(date +%s)
step=0
nsteps=8

die() {
    echo "desktop-image: $*" >&2
    exit 1
}
progress() {
    step=$((step + 1))
    printf 'desktop-image: [%d/%d] %s (%ds)\n' "$step" "$nsteps" "$*" "$(($(date +%s) - t0))"
}

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it)"
for tool in debootstrap chroot mkfs.ext4 mkfs.fat mcopy syslinux sfdisk qemu-img; do
    command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found: apt-get install debootstrap e2fsprogs dosfstools mtools syslinux fdisk qemu-utils"
done
mbr=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$mbr" ] || die "$mbr missing: apt-get install syslinux-common"

mirror=${PORTICO_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '{print $2}' | grep -v security | grep debian | head -n1 || true)
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' \
        /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
pkgs=$(sed 's/#.*//' "$src/packages" | tr -s ' \n' ' ')

mkdir -p "$cache/debs-desktop" "$(dirname "$out")"
cache=$(cd "$cache" && pwd)
inputs=$(
    {
        sha256sum "$0"
        find "$src" -type f | LC_ALL=C sort | xargs sha256sum
        echo "mirror $mirror suite $suite user $user size $size_gib"
        ls -l --time-style=+%s /var/lib/apt/lists 2>/dev/null
    } | sed "s#$root/##" | sha256sum | cut -c1-16
)
if [ "${PORTICO_IMAGE_FORCE:-0}" != 1 ] && [ -f "$out" ] && [ -f "$out.inputs" ] &&
    [ "$(cat "$out.inputs")" = "$inputs" ]; then
    echo "desktop-image: $out (cached, inputs $inputs)"
    exit 0
fi

logf="$out.log"
: >"$logf"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/portico-desktop-image.XXXXXX")
tree="$work/root"
cleanup() {
    # never leave a mount behind, and never delete through one: /dev and the .deb cache
    # are bind mounts, and rm -rf would empty the host's copies
    for m in var/cache/apt/archives dev/pts dev sys proc; do
        mountpoint -q "$tree/$m" 2>/dev/null && umount -l "$tree/$m" 2>/dev/null
    done
    if grep -q " $work/" /proc/mounts; then
        echo "desktop-image: mounts left under $work, not deleting it:" >&2
        grep " $work/" /proc/mounts >&2
        return
    fi
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
    echo "desktop-image: FAILED at step $step: $*; last lines of $logf:" >&2
    tail -n 25 "$logf" >&2
    exit 1
}

# --- package tree: debootstrap + packages, cached as a tar keyed by what goes into it ------
# Rebuilding after a change to the overlay (first boot, services) then skips the ~5 min of
# debootstrap and dpkg. Only the newest tree is kept (each is ~1.3 GB).
tree_key=$(
    {
        echo "$suite $mirror"
        cat "$src/packages"
        sed -n '/^# --- package tree/,/^# --- end of package tree/p' "$0"
        ls -l --time-style=+%s /var/lib/apt/lists 2>/dev/null
    } | sha256sum | cut -c1-16
)
tree_tar="$cache/desktop-tree-$tree_key.tar"
mount_tree() {
    mount -t proc proc "$tree/proc"
    mount -t sysfs sys "$tree/sys"
    mount --bind /dev "$tree/dev"
    mount --bind /dev/pts "$tree/dev/pts"
    mount --bind "$cache/debs-desktop" "$tree/var/cache/apt/archives"
}
umount_tree() {
    for m in var/cache/apt/archives dev/pts dev sys proc; do
        umount "$tree/$m" || fail "umount $m"
    done
}
in_tree() { chroot "$tree" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }

if [ -f "$tree_tar" ]; then
    nsteps=$((nsteps - 2))
    progress "package tree: reusing $(basename "$tree_tar") (packages and apt lists unchanged)"
    mkdir -p "$tree"
    tar -C "$tree" --numeric-owner --xattrs -xpf "$tree_tar" || fail "tar -x $tree_tar"
    mount_tree
else
    progress "debootstrap $suite (minbase) from $mirror"
    debootstrap --variant=minbase --cache-dir="$cache/debs-desktop" "$suite" "$tree" "$mirror" \
        >>"$logf" 2>&1 || fail "debootstrap"

    progress "configure apt, locale, policy-rc.d in the build tree"
    cat >"$tree/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
    printf '#!/bin/sh\nexit 101\n' >"$tree/usr/sbin/policy-rc.d"
    chmod +x "$tree/usr/sbin/policy-rc.d"
    echo 'APT::Install-Recommends "false";' >"$tree/etc/apt/apt.conf.d/90portico"
    echo "portico-golden" >"$tree/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 portico-golden\n' >"$tree/etc/hosts"
    mount_tree

    progress "apt-get install $(echo "$pkgs" | wc -w) packages (the long step; see $logf)"
    in_tree apt-get update -q >>"$logf" 2>&1 || fail "apt-get update"
    # shellcheck disable=SC2086
    in_tree apt-get install -y -q $pkgs >>"$logf" 2>&1 || fail "apt-get install"
    n_installed=$(in_tree dpkg-query -W -f='.\n' | wc -l)
    echo "desktop-image:       $n_installed packages installed; saving the tree" >&2
    umount_tree
    rm -f "$cache"/desktop-tree-*.tar
    tar -C "$tree" --numeric-owner --xattrs -cf "$tree_tar.tmp" . || fail "tar -c tree"
    mv "$tree_tar.tmp" "$tree_tar"
    mount_tree
fi
# --- end of package tree ------------------------------------------------------------------

progress "Portico overlay: first boot, readiness report, networkd DHCP, user $user"
cp -R "$src/overlay/." "$tree/"
in_tree systemctl enable portico-firstboot.service portico-ready.service systemd-networkd.service \
    xrdp.service lightdm.service qemu-guest-agent.service >>"$logf" 2>&1 || fail "systemctl enable"
in_tree systemctl set-default graphical.target >>"$logf" 2>&1 || fail "set-default"
pw=${PORTICO_DESKTOP_PASSWORD:-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')}
in_tree useradd -m -s /bin/bash -G sudo,audio,video "$user" >>"$logf" 2>&1 || fail "useradd"
printf '%s:%s\n' "$user" "$pw" | in_tree chpasswd || fail "chpasswd"
# xrdp (running as user xrdp) must read the TLS key, which ssl-cert group owns
in_tree usermod -aG ssl-cert xrdp >>"$logf" 2>&1 || fail "usermod xrdp"
echo "xfce4-session" >"$tree/home/$user/.xsession"
in_tree chown "$user:$user" "/home/$user/.xsession"
# xrdp's Xorg session and the console session both start XFCE
in_tree update-alternatives --set x-session-manager /usr/bin/xfce4-session >>"$logf" 2>&1 || true

progress "generalise: empty machine-id, no host keys, no logs, clean apt"
: >"$tree/etc/machine-id"
rm -f "$tree/var/lib/dbus/machine-id" "$tree/etc/xrdp/rsakeys.ini" "$tree/usr/sbin/policy-rc.d"
rm -rf "$tree/var/lib/portico" "$tree/var/log/journal"/* "$tree/tmp"/* "$tree/var/lib/apt/lists"/*
find "$tree/var/log" -type f -exec truncate -s 0 {} +
umount_tree
kernel=$(ls "$tree"/boot/vmlinuz-* | sort -V | tail -n1)
initrd=$(ls "$tree"/boot/initrd.img-* | sort -V | tail -n1)
[ -f "$kernel" ] && [ -f "$initrd" ] || fail "no kernel/initramfs in the build tree"

progress "disk: MBR + FAT16 /boot (syslinux, $(basename "$kernel")) + ext4 root from the tree"
# Both file systems are written in place at their partition offsets: mkfs.ext4 -d copies
# the tree without mounting anything, mtools writes the FAT one, syslinux installs its
# boot sector through mtools too. FAT16: mtools fails with "No directory slots" on a
# 256 MiB FAT32 made with mkfs.fat --offset (too few clusters for FAT32).
boot_mib=256
root_mib=$((size_gib * 1024))
disk="$work/disk.raw"
truncate -s $(((1 + boot_mib + root_mib) * 1024 * 1024)) "$disk"
sfdisk -q "$disk" >>"$logf" 2>&1 <<EOF || fail "sfdisk"
label: dos
start=2048, size=$((boot_mib * 2048)), type=e, bootable
start=$((2048 + boot_mib * 2048)), size=$((root_mib * 2048)), type=83
EOF
dd if="$mbr" of="$disk" bs=440 count=1 conv=notrunc status=none
rootuuid=$(cat /proc/sys/kernel/random/uuid)
echo "UUID=$rootuuid / ext4 errors=remount-ro 0 1" >"$tree/etc/fstab"
mkfs.ext4 -q -F -L portico-root -U "$rootuuid" -d "$tree" \
    -E offset=$(((1 + boot_mib) * 1024 * 1024)) "$disk" "${root_mib}M" >>"$logf" 2>&1 ||
    fail "mkfs.ext4 -d"
mkfs.fat -F 16 -n PORTICOBOOT --offset 2048 "$disk" $((boot_mib * 1024)) >>"$logf" 2>&1 ||
    fail "mkfs.fat"
cat >"$work/syslinux.cfg" <<EOF
DEFAULT portico
PROMPT 0
TIMEOUT 0
LABEL portico
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND root=UUID=$rootuuid ro console=tty0 console=ttyS0,115200 quiet
EOF
export MTOOLS_SKIP_CHECK=1
fat="$disk@@1M"
mcopy -i "$fat" "$kernel" ::/vmlinuz || fail "mcopy kernel"
mcopy -i "$fat" "$initrd" ::/initrd.img || fail "mcopy initrd"
mcopy -i "$fat" "$work/syslinux.cfg" ::/syslinux.cfg || fail "mcopy syslinux.cfg"
syslinux --install --offset $((2048 * 512)) "$disk" >>"$logf" 2>&1 || fail "syslinux --install"

progress "qcow2"
tmp_out="$out.tmp.$$"
qemu-img convert -q -f raw -O qcow2 "$disk" "$tmp_out" || fail "qemu-img convert"
mv -f "$tmp_out" "$out"
umask 077
printf 'user=%s\npassword=%s\n' "$user" "$pw" >"$out.credentials"
echo "$inputs" >"$out.inputs"
progress "done: $out ($(du -h "$out" | cut -f1) allocated), credentials in $out.credentials"
