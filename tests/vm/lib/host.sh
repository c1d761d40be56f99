# tests/vm/lib/host.sh: what the host must have before a boot: Debian packages (installed with
# apt-get when missing) and the accelerator that works (the kernel: lib/platform.sh). Sourced by tests/vm/run.

# say/warn print progress; skip and die end the run (77 = skipped, 1 = failed).
say() { printf 'vm: %s\n' "$*" >&2; }
warn() { printf 'vm: warning: %s\n' "$*" >&2; }
die() { printf 'vm: FAIL: %s\n' "$*" >&2; exit 1; }
# A missing prerequisite is a skip, unless FEXITD_VM_REQUIRE=1 (CI) makes it a failure.
skip() {
	if [ "${FEXITD_VM_REQUIRE:-0}" = 1 ]; then
		die "$* (FEXITD_VM_REQUIRE=1: not skipping)"
	fi
	printf 'vm: SKIP: %s\n' "$*" >&2
	exit 77
}

# host_missing_packages MODE...: the Debian packages that bring what the modes need and is missing.
host_missing_packages() {
	local need=(qemu-system-x86_64:qemu-system-x86 cpio:cpio modprobe:kmod ldd:libc-bin
	            ldconfig:libc-bin timeout:coreutils tar:tar busybox:busybox-static depmod:kmod
	            xz:xz-utils zstd:zstd dpkg-deb:dpkg flock:util-linux) mode item
	for mode in "$@"; do
		case $mode in
		fast) need+=(bpftool:bpftool) ;;
		systemd) need+=(debootstrap:debootstrap mkfs.ext4:e2fsprogs
		                /usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring) ;;
		esac
	done
	for item in "${need[@]}"; do
		case ${item%%:*} in
		/*) [ -e "${item%%:*}" ] || echo "${item#*:}" ;;
		*) command -v "${item%%:*}" >/dev/null || echo "${item#*:}" ;;
		esac
	done | sort -u
}

# host_install_deps MODE...: apt-get installs what is missing (Debian's archive only), or skips.
host_install_deps() {
	local missing
	missing=$(host_missing_packages "$@" | tr '\n' ' ')
	missing=${missing% }
	[ -n "$missing" ] || return 0
	if [ "$(id -u)" != 0 ] || [ "${FEXITD_VM_NO_INSTALL:-0}" = 1 ] || ! command -v apt-get >/dev/null; then
		skip "missing Debian packages: $missing (as root: apt-get install $missing)"
	fi
	say "installing from Debian's archive: $missing"
	export DEBIAN_FRONTEND=noninteractive
	if ! { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; } \
	    >"$WORK/apt.log" 2>&1; then
		tail -n 20 "$WORK/apt.log" >&2
		skip "apt-get install $missing failed (log above)"
	fi
	missing=$(host_missing_packages "$@" | tr '\n' ' ')
	[ -z "$missing" ] || skip "still missing after apt-get install: $missing"
}

# Sets ACCEL (qemu arguments) and ACCEL_NAME to the accelerator that works: KVM when a probe
# boot under it powers off in time (on the project's machines it asserts or hangs), else TCG.
# The verdict is cached per host boot. FEXITD_VM_ACCEL=kvm|tcg forces one.
host_pick_accel() {
	local key verdict cache=$CACHE/kvm-probe
	ACCEL=(-accel tcg -cpu max) ACCEL_NAME=tcg
	case ${FEXITD_VM_ACCEL:-auto} in
	tcg) return ;;
	kvm) ACCEL=(-accel kvm -cpu host) ACCEL_NAME=kvm; return ;;
	esac
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 0
	key="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) $(qemu-system-x86_64 --version | head -n 1) $KVER"
	verdict=$(awk -F '\t' -v k="$key" '$1 == k { v = $2 } END { print v }' "$cache" 2>/dev/null)
	if [ -z "$verdict" ]; then
		verdict=$(host_probe_kvm)
		printf '%s\t%s\n' "$key" "$verdict" >>"$cache"
	fi
	[ "$verdict" = works ] && ACCEL=(-accel kvm -cpu host) ACCEL_NAME=kvm
	say "accelerator: $ACCEL_NAME (KVM probe: $verdict)"
}

# Boots the kernel under KVM with a busybox initramfs that only powers off: "works" or why not.
host_probe_kvm() {
	local dir=$WORK/kvm-probe rc
	mkdir -p "$dir/tree"
	tree_skeleton "$dir/tree"
	printf '#!/bin/sh\necho FEXITD-KVM-PROBE-OK\npoweroff -f\n' >"$dir/tree/init"
	chmod 755 "$dir/tree/init"
	tree_add_libs "$dir/tree" "$dir/tree" >/dev/null
	tree_cpio "$dir/tree" "$dir/probe.cpio"
	timeout -k 2 15 qemu-system-x86_64 -accel kvm -cpu host -m 256 -smp 1 -nodefaults -no-user-config \
		-display none -serial "file:$dir/console.log" -no-reboot -kernel "$KERNEL" \
		-initrd "$dir/probe.cpio" -append "console=ttyS0 panic=-1 loglevel=1" \
		</dev/null >"$dir/qemu.log" 2>&1
	rc=$?
	if grep -q FEXITD-KVM-PROBE-OK "$dir/console.log" 2>/dev/null; then
		echo works
	elif [ $rc = 124 ] || [ $rc = 137 ]; then
		echo "hung (no power-off within 15 s)"
	else
		echo "failed (qemu exit $rc: $(tail -n 1 "$dir/qemu.log" | cut -c1-100))"
	fi
}
