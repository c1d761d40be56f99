# tests/vm/lib/image.sh: the systemd mode's root disk. A bookworm tree built once by debootstrap
# and tests/vm/image/customize.sh is cached under $CACHE/rootfs-KEY (KEY: a hash of the package
# list, the recipe and the kernel); every run hard-links a copy of it, adds the installed project,
# the payload and the runner unit, and makes an ext4 image of it with mkfs.ext4 -d.
# Sourced by tests/vm/run.

IMAGE_SUITE=bookworm

image_packages() {
	sed 's/#.*//' "$VM_DIR/image/packages" | tr -s ' \t\n' '\n' | grep -v '^$'
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
		echo "suite=$IMAGE_SUITE kernel=$KVER"
		dpkg-query -W -f='${Version}\n' "linux-image-$KVER" 2>/dev/null
	} | sha256sum | cut -c1-16
}

# Sets BASE to the cached base tree, building it first when the cache has none for this key.
image_base() {
	local key tmp mirror t0 old
	key=$(image_key)
	BASE=$CACHE/rootfs-$key
	[ -f "$BASE/.fexitd-vm-complete" ] && { say "base image: cached ${BASE#$REPO/}"; return 0; }
	[ "$(id -u)" = 0 ] || skip "building the systemd image needs root (debootstrap)"
	exec 9>"$CACHE/.image.lock"
	flock 9
	if [ ! -f "$BASE/.fexitd-vm-complete" ]; then
		mirror=$(image_mirror)
		tmp=$BASE.tmp
		rm -rf "$tmp"
		mkdir -p "$CACHE/debs"
		say "building the base image (debootstrap $IMAGE_SUITE from $mirror, once per key $key)"
		t0=$SECONDS
		if ! debootstrap --variant=minbase --cache-dir="$CACHE/debs" \
			--include="$(image_packages | paste -sd,)" "$IMAGE_SUITE" "$tmp" "$mirror" \
			>"$WORK/debootstrap.log" 2>&1; then
			tail -n 20 "$WORK/debootstrap.log" >&2
			die "debootstrap failed (log above)"
		fi
		"$VM_DIR/image/customize.sh" "$tmp" "$KVER" || die "tests/vm/image/customize.sh failed"
		touch "$tmp/.fexitd-vm-complete"
		mv "$tmp" "$BASE"
		say "base image built in $((SECONDS - t0)) s: $(du -sh "$BASE" | cut -f1)"
		for old in "$CACHE"/rootfs-*; do
			[ "$old" = "$BASE" ] && continue
			say "removing the outdated ${old##*/}"
			rm -rf "$old"
		done
	fi
	exec 9>&-
}

# image_root STAGE PAYLOAD SCRIPT...: $WORK/systemd/root.img, the base plus this run's files;
# the modules that the scripts ask for (# vm-modules:) are loaded at boot (modules-load.d).
image_root() {
	local stage=$1 payload=$2 root=$WORK/systemd/root etc libs size modules
	shift 2
	cp -al "$BASE" "$root" 2>/dev/null || { rm -rf "$root"; cp -a "$BASE" "$root"; }
	rm -f "$root/.fexitd-vm-complete"
	tree_merge "$stage" "$root"
	tree_merge "$payload" "$root"
	libs=$(tree_add_libs "$root" "$stage" "$payload/opt/fexitd-tests" | paste -sd' ')
	[ -z "$libs" ] || say "copied into the image from the host: $libs (add their packages to tests/vm/image/packages)"
	rm -f "$root/etc/ld.so.cache"
	ldconfig -r "$root"
	image_activate "$root" "$stage"

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
	if [ "${FEXITD_VM_DEBIAN_INITRD:-0}" = 1 ]; then initrd=$INITRD; else image_initrd "$initrd"; fi
	vm_boot "$append" -kernel "$KERNEL" -initrd "$initrd" \
		-drive "file=$WORK/systemd/root.img,if=none,id=root,format=raw,cache=unsafe" \
		-device virtio-blk-pci,drive=root,serial=fexitd-root
}
