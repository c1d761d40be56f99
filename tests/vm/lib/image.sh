# tests/vm/lib/image.sh: the systemd mode's root disk. The platform's tree (lib/platform.sh:
# debootstrap of its suite, its kernel's modules, tests/vm/image/customize.sh) is built once and
# cached under $CACHE/rootfs-PLATFORM-KEY (KEY: a hash of the package list, the recipe, the suite
# and the kernel); every run hard-links a copy of it, adds the installed project, the payload and
# the runner unit, and makes an ext4 image of it with mkfs.ext4 -d. Its cached debootstrap and its
# chroot (image_debootstrap, image_chroot) also make and use the native builds' build roots.
# Sourced by tests/vm/run and tests/vm/native-build.

# The packages of tests/vm/image/packages for this platform: a line "NAME @p1 @p2" is only for
# those platforms (package names differ between suites: libelf1 became libelf1t64).
image_packages() {
	sed 's/#.*//' "$VM_DIR/image/packages" | awk -v p="@$PLATFORM" '
		NF == 0 { next }
		NF == 1 { print $1; next }
		{ for (i = 2; i <= NF; i++) if ($i == p) { print $1; next } }'
}

# The mirror apt uses on this host (Debian's archive), unless FEXITD_VM_MIRROR says otherwise.
image_mirror() {
	local m=${FEXITD_VM_MIRROR:-}
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | grep -E '^(deb|URIs:)[[:space:]]' |
		grep -oE 'https?://[^[:space:]]*/debian/?([[:space:]]|$)' | head -n 1 | tr -d '[:space:]')
	echo "${m:-http://deb.debian.org/debian}"
}

image_key() {
	{
		cat "$VM_DIR/image/packages" "$VM_DIR/image/customize.sh"
		echo "platform=$PLATFORM suite=$SUITE kernel=$KVER $KPKG"
	} | sha256sum | cut -c1-16
}

# image_debootstrap DIR MARKER WHAT PACKAGES [FINISH...]: DIR, a cached tree of the platform's
# suite (`debootstrap --variant=minbase` with PACKAGES, comma-separated), for the systemd image
# (image_base) and the native builds' build roots (tests/vm/native-build). A DIR that holds
# MARKER is complete and used as it is. Otherwise it is built as DIR.tmp, FINISH... runs with
# that tree as its last argument, and it becomes DIR with MARKER; the trees of the same kind
# with another key (DIR's name up to its last -KEY) are removed then. One lock for every tree
# in the cache, since the trees of one suite share debootstrap's package cache (debs-SUITE).
image_debootstrap() {
	local dir=$1 marker=$2 what=$3 packages=$4 mirror t0 old
	shift 4
	[ -f "$dir/$marker" ] && return 0
	[ "$(id -u)" = 0 ] || skip "building the $what needs root (debootstrap)"
	exec 9>"$CACHE/.debootstrap.lock"
	flock 9
	if [ ! -f "$dir/$marker" ]; then
		mirror=$(image_mirror)
		rm -rf "$dir.tmp"
		mkdir -p "$CACHE/debs-$SUITE"
		say "building the $what (debootstrap $SUITE from $mirror, once per key ${dir##*-})"
		t0=$SECONDS
		if ! debootstrap --variant=minbase --cache-dir="$CACHE/debs-$SUITE" --include="$packages" \
			"$SUITE" "$dir.tmp" "$mirror" $SUITE_SCRIPT >"$WORK/debootstrap.log" 2>&1; then
			tail -n 20 "$WORK/debootstrap.log" >&2
			die "debootstrap $SUITE failed (log above)"
		fi
		rm -rf "$dir.tmp"/var/cache/apt/archives/*.deb
		[ $# = 0 ] || "$@" "$dir.tmp" || die "$1 failed on the new $what"
		touch "$dir.tmp/$marker"
		mv "$dir.tmp" "$dir"
		say "$what built in $((SECONDS - t0)) s: $(du -sh "$dir" | cut -f1)"
		for old in "${dir%-*}"-*; do
			[ "$old" = "$dir" ] && continue
			say "removing the outdated ${old##*/}"
			rm -rf "$old"
		done
	fi
	exec 9>&-
}

# image_chroot ROOT MOUNTS SCRIPT [NAME=VALUE...]: runs the sh SCRIPT in the tree ROOT as its
# root, with the host's folders MOUNTS ("proc sys dev", or fewer) bound into it in a private
# mount namespace, so nothing mounted outlives it, and an environment of PATH and the NAME=VALUEs.
image_chroot() {
	local root=$1 mounts=$2 script=$3
	shift 3
	unshare -m --propagation private sh -c '
		root=$1 mounts=$2
		shift 2
		for d in $mounts; do mount --rbind "/$d" "$root/$d" || exit 1; done
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"' \
		sh "$root" "$mounts" "$@" sh -c "$script"
}

# image_customize TREE: the systemd image's own part of its base tree (tests/vm/image/customize.sh),
# and the systemd version that the run reports.
image_customize() {
	"$VM_DIR/image/customize.sh" "$1" "$KVER" "$KROOT" || return 1
	dpkg-query --admindir="$1/var/lib/dpkg" -W -f='${Version}' systemd >"$1/.fexitd-vm-systemd"
}

# Sets BASE to the cached base tree, building it first when the cache has none for this key.
image_base() {
	BASE=$CACHE/rootfs-$PLATFORM-$(image_key)
	[ -f "$BASE/.fexitd-vm-complete" ] && { say "base image: cached ${BASE#$REPO/}"; return 0; }
	image_debootstrap "$BASE" .fexitd-vm-complete "$PLATFORM base image" "$(image_packages | paste -sd,)" \
		image_customize
}

# image_root STAGE PAYLOAD SCRIPT...: $WORK/systemd/root.img, the base plus this run's files;
# the modules that the scripts ask for (# vm-modules:) are loaded at boot (modules-load.d).
image_root() {
	local stage=$1 payload=$2 root=$WORK/systemd/root etc libs size modules
	shift 2
	cp -al "$BASE" "$root" 2>/dev/null || { rm -rf "$root"; cp -a "$BASE" "$root"; }
	rm -f "$root/.fexitd-vm-complete" "$root/.fexitd-vm-systemd"
	if [ -n "$DEBS" ]; then
		image_install_debs "$root" "$DEBS"
		stage=$WORK/systemd/no-stage
		mkdir -p "$stage"
	else
		tree_merge "$stage" "$root"
	fi
	tree_merge "$payload" "$root"
	libs=$(tree_add_libs "$root" "$stage" "$payload/opt/fexitd-tests" | paste -sd' ')
	[ -z "$libs" ] || say "copied into the image from the host: $libs (add their packages to tests/vm/image/packages)"
	rm -f "$root/etc/ld.so.cache"
	ldconfig -r "$root"
	[ -n "$DEBS" ] || image_activate "$root" "$stage"

	modules=$(case_modules "$@")
	if [ -n "$modules" ]; then
		mkdir -p "$root/etc/modules-load.d"
		echo "$modules" >"$root/etc/modules-load.d/fexitd-vm-cases.conf"
	fi
	etc=$root/etc/systemd/system
	cp "$VM_DIR/guest/fexitd-vm-tests.service" "$etc/"
	if [ "$SHELL_MODE" = 1 ]; then
		mkdir -p "$etc/serial-getty@ttyS0.service.d"
		printf '[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --noclear %s\n' \
			'--keep-baud 115200,57600,38400,9600 %I $TERM' >"$etc/serial-getty@ttyS0.service.d/autologin.conf"
		printf 'echo "fexitd-vm: /opt/fexitd-tests/run-tests runs the tests; poweroff ends the VM"\n' \
			>"$root/etc/profile.d/fexitd-vm.sh"
	else
		mkdir -p "$etc/multi-user.target.wants"
		ln -s ../fexitd-vm-tests.service "$etc/multi-user.target.wants/fexitd-vm-tests.service"
	fi

	size=$(du -sm "$root" | cut -f1)
	size=$((size + size * 3 / 10 + 256))
	rm -f "$WORK/systemd/root.img"
	truncate -s "${size}M" "$WORK/systemd/root.img"
	mkfs.ext4 -q -F -m 0 -L fexitd-root -E lazy_itable_init=1,lazy_journal_init=1,nodiscard \
		-d "$root" "$WORK/systemd/root.img" || die "mkfs.ext4 -d failed"
	[ "$KEEP" = 1 ] || rm -rf "$root"
}

# image_activate ROOT STAGE: what a distribution package's maintainer scripts do once the
# project's files are unpacked into ROOT (debhelper's dh_installsysusers, dh_installsystemd),
# run with the image's own tools: create the users and groups of the staged sysusers.d files,
# and enable the staged units that have an [Install] section, a socket rather than the service
# it activates. (systemd-tmpfiles-setup.service applies tmpfiles.d at every boot.)
image_activate() {
	local root=$1 stage=$2 f u units=()
	for f in $(find "$stage" -path '*/sysusers.d/*.conf' -type f -printf '%f\n' | sort -u); do
		chroot "$root" systemd-sysusers "$f" >>"$WORK/activate.log" 2>&1 ||
			die "systemd-sysusers $f in the image failed: $(tail -n 3 "$WORK/activate.log")"
	done
	for f in $(find "$stage" -path '*/systemd/system/*' -type f \( -name '*.socket' -o \
		-name '*.service' -o -name '*.timer' -o -name '*.path' \) | sort); do
		u=${f##*/}
		case $u in *@.*) continue ;; esac
		[ ! -e "${f%.service}.socket" ] || continue
		grep -q '^\[Install\]' "$f" && units+=("$u")
	done
	[ ${#units[@]} = 0 ] && return 0
	chroot "$root" systemctl enable "${units[@]}" >>"$WORK/activate.log" 2>&1 ||
		die "systemctl enable ${units[*]} in the image failed: $(tail -n 3 "$WORK/activate.log")"
	say "enabled in the image: ${units[*]}"
}

# image_install_debs ROOT DEBDIR: installs the project's packages into ROOT the way a user does,
# dpkg -i with the image's own dpkg, so their maintainer scripts (debhelper's: sysusers, tmpfiles,
# enabling the socket) run for real, with the host's /proc (and nothing else of the host's).
# The packages stay in /var/cache/fexitd-debs for the cases that purge and reinstall them.
image_install_debs() {
	local root=$1 debs=$2
	mkdir -p "$root/var/cache/fexitd-debs"
	cp "$debs"/*.deb "$root/var/cache/fexitd-debs/"
	if ! image_chroot "$root" proc 'dpkg -i /var/cache/fexitd-debs/*.deb' DEBIAN_FRONTEND=noninteractive \
		>"$WORK/dpkg.log" 2>&1; then
		tail -n 20 "$WORK/dpkg.log" >&2
		die "dpkg -i of $(ls "$debs"/*.deb | xargs -n1 basename | paste -sd' ') in the $PLATFORM image failed (log above)"
	fi
	say "installed in the image with dpkg: $(ls "$root/var/cache/fexitd-debs" | sed 's/_.*//' | paste -sd' ')"
}

# image_initrd OUT: a busybox initramfs that mounts the root disk and starts systemd
# (tests/vm/guest/init-root).
image_initrd() {
	local tree=$WORK/systemd/initrd
	rm -rf "$tree"
	tree_skeleton "$tree"
	tree_modules "$tree" virtio_pci virtio_blk ext4
	cp "$VM_DIR/guest/init-root" "$tree/init"
	chmod 755 "$tree/init"
	tree_add_libs "$tree" "$tree" >/dev/null
	tree_cpio "$tree" "$1"
}

# systemd_boot: boots Debian's kernel on the root image; the unit fexitd-vm-tests.service runs
# the tests after multi-user.target and powers off.
systemd_boot() {
	local append="console=ttyS0 root=/dev/vda rw fsck.mode=skip panic=-1 oops=panic loglevel=4"
	local initrd=$WORK/systemd/initrd.cpio
	[ "$SHELL_MODE" = 1 ] || append="$append systemd.mask=serial-getty@ttyS0.service"
	image_initrd "$initrd"
	vm_boot "$append" -kernel "$KERNEL" -initrd "$initrd" \
		-drive "file=$WORK/systemd/root.img,if=none,id=root,format=raw,cache=unsafe" \
		-device virtio-blk-pci,drive=root,serial=fexitd-root
}
