# tests/vm/lib/fast.sh: the fast mode's boot medium, one initramfs and no disk image: busybox,
# bash, bpftool, the installed project, the test payload, the libraries of all of them (ldd),
# and the virtio modules for the results disk. /init is tests/vm/guest/init-fast.
# Sourced by tests/vm/run.

# fast_initramfs STAGE PAYLOAD OUT SCRIPT...: builds the initramfs archive OUT. Its /init loads
# the virtio modules for the results disk, and those that the scripts ask for (# vm-modules:).
fast_initramfs() {
	local stage=$1 payload=$2 out=$3 tree=$WORK/fast/initramfs bin libs modules
	shift 3
	rm -rf "$tree"
	tree_skeleton "$tree"
	for bin in bash bpftool; do
		bin=$(command -v "$bin") || continue
		bin=$(readlink -f "$bin")
		mkdir -p "$tree${bin%/*}"
		cp "$bin" "$tree$bin"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
		>"$tree/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$tree/etc/group"
	echo fexitd-vm >"$tree/etc/hostname"
	cp -a /etc/ld.so.conf /etc/ld.so.conf.d "$tree/etc/" 2>/dev/null
	tree_merge "$stage" "$tree"
	tree_merge "$payload" "$tree"
	modules=$(case_modules "$@" | paste -sd' ')
	tree_modules "$tree" virtio_pci virtio_blk $modules
	cp "$VM_DIR/guest/init-fast" "$tree/init"
	chmod 755 "$tree/init"
	libs=$(tree_add_libs "$tree" "$tree" | wc -l)
	ldconfig -r "$tree"
	tree_cpio "$tree" "$out"
	say "fast initramfs: $(du -sh "$out" | cut -f1), $libs libraries from the host${modules:+, modules: $modules}"
}

# fast_boot: boots the initramfs; the guest runs the tests from /init and powers off.
fast_boot() {
	local append="console=ttyS0 panic=-1 oops=panic loglevel=4"
	[ "$SHELL_MODE" = 1 ] && append="$append fexitd.shell"
	vm_boot "$append" -kernel "$KERNEL" -initrd "$WORK/fast/initramfs.cpio"
}
