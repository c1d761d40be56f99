#!/bin/sh
# customize.sh ROOT KVER KROOT: turns a fresh `debootstrap --variant=minbase` tree into the systemd
# mode's cached base image (tests/vm/lib/image.sh). Runs on the host as root. Part of the cache
# key: editing it rebuilds the image on the next run. Nothing here is per-run: the project, the
# tests and the runner unit are added to a copy of this tree at every run.
set -eu
ROOT=$1
KVER=$2
KROOT=$3

# The kernel's modules, from the same kernel packages as the vmlinuz we boot (KROOT: the
# platform's kernel unpacked by tests/vm/lib/platform.sh); depmod of the image's own kmod.
mkdir -p "$ROOT/lib/modules"
cp -a "$KROOT/lib/modules/$KVER" "$ROOT/lib/modules/"
chroot "$ROOT" depmod "$KVER"

echo fexitd-vm >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tfexitd-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
	>"$ROOT/etc/hosts"
printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t0\n' >"$ROOT/etc/fstab"
# A fixed machine id: no first-boot logic (systemd-firstboot could wait for console input).
echo 0fe71d0000000000000000000000fe71 >"$ROOT/etc/machine-id"
chroot "$ROOT" passwd -d root >/dev/null

# Nothing the tests need that costs boot time under TCG or writes to the disk in the background.
for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
	e2scrub_reap.service fstrim.timer getty@tty1.service getty-static.service \
	systemd-timesyncd.service systemd-networkd.service systemd-networkd-wait-online.service; do
	ln -sf /dev/null "$ROOT/etc/systemd/system/$unit"
done
mkdir -p "$ROOT/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$ROOT/etc/systemd/journald.conf.d/fexitd-vm.conf"

# Smaller tree, faster mkfs.ext4 -d at every run.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/usr/share/doc/* \
	"$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/usr/share/locale/*
