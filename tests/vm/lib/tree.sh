# tests/vm/lib/tree.sh: building the file trees that go into the guest: the project installed
# as a user would (cmake --install), the test payload (/opt/fexitd-tests), the libraries they
# need, and cpio archives. Sourced by tests/vm/run.

# tree_skeleton DIR: an empty merged-/usr root with a static busybox as /bin/sh.
tree_skeleton() {
	local d=$1 sub
	mkdir -p "$d"/usr/bin "$d"/usr/sbin "$d"/usr/lib "$d"/usr/lib64 "$d"/etc "$d"/proc "$d"/sys \
		"$d"/dev "$d"/run "$d"/tmp "$d"/root "$d"/mnt
	for sub in bin sbin lib lib64; do
		ln -s "usr/$sub" "$d/$sub"
	done
	chmod 1777 "$d/tmp"
	cp "$(command -v busybox)" "$d/usr/bin/busybox"
	ln -s busybox "$d/usr/bin/sh"
}

# tree_merge SRC DST: copies SRC's content into DST. DST's symlinked folders (merged /usr: a
# staged lib/systemd/system lands in usr/lib/systemd/system) and folder modes are kept, and
# files are replaced, never written through: DST may hard-link the image cache.
tree_merge() {
	tar -C "$1" -cf - . | tar -C "$2" -xf - --keep-directory-symlink --no-overwrite-dir
}

is_elf() {
	[ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' \n')" = '177ELF' ]
}

# tree_add_libs ROOT DIR...: copies into ROOT, at the same paths, the shared libraries that the
# executables and libraries under DIR... need and ROOT lacks, as ldd resolves them on this host
# (Debian bookworm, like the guest). Libraries found under DIR... themselves (an installed
# libfexit.so) are resolved there.
tree_add_libs() {
	local root=$1 libpath lib from f d
	shift
	libpath=$(find "$@" -name '*.so*' -type f -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)
	find "$@" -type f \( -perm -u+x -o -name '*.so*' \) -print 2>/dev/null |
	while read -r f; do
		is_elf "$f" && LD_LIBRARY_PATH=$libpath ldd "$f" 2>/dev/null |
			awk -v f="$f" '/=> not found/ { print "!" $1, f; next }
			               / => \// { print $3 } /^[ \t]*\// { print $1 }'
	done | sort -u |
	while read -r lib from; do
		case $lib in
		'!'*) warn "$from needs ${lib#!}, which ldd does not find"; continue ;;
		"$root"/*) continue ;;
		esac
		for d in "$@"; do case $lib in "$d"/*) continue 2 ;; esac; done
		[ -e "$root$lib" ] && continue
		mkdir -p "$root${lib%/*}"
		cp -L "$lib" "$root$lib"
		echo "$lib"
	done
}

# tree_cpio DIR OUT: an uncompressed newc archive (the kernel unpacks it faster than gzip under TCG).
tree_cpio() {
	(cd "$1" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$2"
}

# stage_install BUILD STAGE: DESTDIR=STAGE cmake --install BUILD, as a user or a package would.
# A build tree without install rules (or without a daemon yet) installs nothing, which is fine.
stage_install() {
	local build=$1 stage=$2
	mkdir -p "$stage"
	if [ ! -f "$build/cmake_install.cmake" ]; then
		warn "no $build/cmake_install.cmake: installing nothing into the guest"
		return 0
	fi
	if ! DESTDIR=$stage cmake --install "$build" >"$WORK/install.log" 2>&1; then
		cat "$WORK/install.log" >&2
		die "DESTDIR=$stage cmake --install $build failed (build it first: cmake --build $build)"
	fi
	say "installed $(find "$stage" -type f -o -type l | wc -l) files from $build (DESTDIR=${stage#$WORK/})"
}

# payload_build REPO BUILD DIR SCRIPT...: the test payload under DIR/opt/fexitd-tests:
#   src/    the repo's tests/ folder            ($FEXITD_TEST_SRC)
#   build/  BUILD/tests: *.bpf.o and ELF files  ($FEXITD_TEST_BUILD)
#   cases/  the test scripts given              (run in the order given)
#   run-tests, testlib.sh                       (tests/vm/guest)
payload_build() {
	local repo=$1 build=$2 p=$3/opt/fexitd-tests s f name
	shift 3
	mkdir -p "$p/src" "$p/build" "$p/cases"
	cp -a "$repo/tests/." "$p/src/"
	if [ -d "$build/tests" ]; then
		(cd "$build/tests" && find . -name CMakeFiles -prune -o -type f \
			\( -name '*.bpf.o' -o -perm -u+x \) -print) |
		while read -r f; do
			case $f in *.bpf.o) ;; *) is_elf "$build/tests/$f" || continue ;; esac
			mkdir -p "$p/build/${f%/*}"
			cp -a "$build/tests/$f" "$p/build/$f"
		done
	fi
	for s in "$@"; do
		name=${s##*/}
		[ ! -e "$p/cases/$name" ] || die "two test scripts named $name"
		cp "$s" "$p/cases/$name"
		chmod 755 "$p/cases/$name"
	done
	cp "$VM_DIR/guest/run-tests" "$VM_DIR/guest/testlib.sh" "$p/"
	chmod 755 "$p/run-tests"
}

# header_value SCRIPT KEY: the value of the first "# KEY: value" line of a test script.
header_value() {
	sed -n "s/^# $2:[[:space:]]*//p" "$1" | head -n 1 | sed 's/[[:space:]]*$//'
}

# case_modules SCRIPT...: the kernel modules the scripts ask for ("# vm-modules: a b").
case_modules() {
	local s
	for s in "$@"; do
		header_value "$s" vm-modules | tr ', ' '\n\n'
	done | grep -v '^$' | sort -u
}

# tree_modules TREE MODULE...: copies the modules and their dependencies from the platform's
# unpacked kernel ($KROOT/lib/modules/KVER) into TREE at their guest paths, uncompressed (busybox's
# insmod reads plain ELF), and lists them in insmod order in TREE/etc/fexitd-vm/modules. A module
# built into this kernel needs nothing.
tree_modules() {
	local tree=$1 m ko dst
	shift
	mkdir -p "$tree/etc/fexitd-vm"
	for m in "$@"; do
		modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" || exit 1
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$tree/etc/fexitd-vm/modules.host" ||
		die "modprobe -S $KVER --show-depends cannot resolve the modules $*"
	while read -r ko; do
		dst=/lib/modules/${ko#*/lib/modules/}
		dst=${dst%.xz} dst=${dst%.zst}
		mkdir -p "$tree${dst%/*}"
		case $ko in
		*.xz) xz -dc "$ko" >"$tree$dst" ;;
		*.zst) zstd -q -dc "$ko" >"$tree$dst" ;;
		*) cp "$ko" "$tree$dst" ;;
		esac || die "cannot unpack $ko"
		echo "$dst"
	done <"$tree/etc/fexitd-vm/modules.host" >"$tree/etc/fexitd-vm/modules"
	rm -f "$tree/etc/fexitd-vm/modules.host"
}

# payload_configure DIR MODE SCRIPT...: the guest's env file and tests.list for one boot.
payload_configure() {
	local p=$1/opt/fexitd-tests mode=$2 s name limit e
	shift 2
	{
		echo "export FEXITD_VM_MODE=$mode"
		echo "export FEXITD_TEST_SRC=/opt/fexitd-tests/src"
		echo "export FEXITD_TEST_BUILD=/opt/fexitd-tests/build"
		echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		for e in "${GUEST_ENV[@]}"; do
			printf "export %s='%s'\n" "${e%%=*}" "$(printf %s "${e#*=}" | sed "s/'/'\\\\''/g")"
		done
	} >"$p/env"
	for s in "$@"; do
		name=${s##*/}
		limit=$(header_value "$s" vm-timeout | grep -E '^[0-9]+$')
		echo "${name%.sh} ${limit:-$TEST_TIMEOUT} /opt/fexitd-tests/cases/$name"
	done >"$p/tests.list"
}
