#!/bin/sh
# install-deps.sh: install every Debian package Portico builds, tests and demos with.
#
# Idempotent and quick when everything is present: it asks dpkg first and only calls
# apt-get for what is missing. Package maintainer scripts must never start daemons
# (slapd, xrdp, libvirtd): we run our own instances on loopback, so policy-rc.d denies
# them and slapd is preseeded to create no default database.
set -eu

PKGS="build-essential cmake pkg-config check clang clang-format libclang-rt-14-dev
 libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils
 freerdp2-dev freerdp2-shadow-x11 xvfb x11-utils x11-xserver-utils xdotool xrdp xorgxrdp tigervnc-standalone-server
 slapd ldap-utils libldap-dev
 libwebsockets-dev libev-dev libssl-dev openssl libjansson-dev libsqlite3-dev sqlite3
 chromium chromium-driver nodejs npm
 websockify novnc spice-html5
 netpbm curl wrk iproute2 procps psmisc python3 libpng-dev libjpeg62-turbo-dev libx11-dev
 xclip busybox-static cpio dosfstools mtools syslinux syslinux-common debootstrap fdisk"

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: run as root (it installs Debian packages)" >&2
    exit 1
fi

missing=""
for p in $PKGS; do
    # node/npm may come from another packaging of Node.js already on the machine
    case $p in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing="$missing $p"
done

if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    [ -x /usr/sbin/policy-rc.d ] || {
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
    }
    echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

# libvirt's QEMU driver refuses to initialise without this account (normally created by
# libvirt-daemon-system, which we do not install: it brings polkit, iptables and units).
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
    useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
exit 0
