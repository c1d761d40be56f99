# tests/vm/lib/platform.sh: the platform matrix. A platform is a Debian userspace (the systemd
# image, debootstrapped from its suite) and a Debian kernel with its own modules, both taken from
# Debian's archive as packages through a private apt configuration under $CACHE/apt: the host's
# own apt sources are never changed and no other suite's package is ever installed on the host.
# Sourced by tests/vm/run (and tests/native/run).
#
#   bookworm  Debian 12, systemd 252   Debian 12's linux-image-amd64 (6.1)
#   trixie    Debian 13, systemd 257   Debian 13's linux-image-amd64 (6.12)
#   newest    Debian testing (forky)   the newest linux-image-amd64 in trixie-backports or forky
PLATFORMS="bookworm trixie newest"

# platform_select NAME: sets PLATFORM, SUITE (debootstrap's suite), SUITE_SCRIPT (debootstrap's
# script when it has none of that name: Debian 12's has no "forky") and KERNEL_SUITES.
platform_select() {
	PLATFORM=$1 SUITE_SCRIPT=
	case $PLATFORM in
	bookworm) SUITE=bookworm KERNEL_SUITES="bookworm" ;;
	trixie) SUITE=trixie KERNEL_SUITES="trixie" ;;
	newest) SUITE=forky KERNEL_SUITES="trixie-backports forky" ;;
	*) die "unknown platform '$PLATFORM' (one of: $PLATFORMS)" ;;
	esac
	[ -e "/usr/share/debootstrap/scripts/$SUITE" ] || SUITE_SCRIPT=/usr/share/debootstrap/scripts/sid
}

# The private apt configuration of this platform's kernel suites: its own sources list, lists
# and archive cache, no preferences, nothing of the host's /etc/apt but its trusted keys.
platform_apt_dir() {
	echo "$CACHE/apt/$PLATFORM"
}

papt() {
	local d
	d=$(platform_apt_dir)
	"$@" -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$d/lists" -o Dir::Cache::Archives="$d/archives" \
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
		-o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1
}

# platform_apt_update: refreshes the private lists when they are older than 6 hours (the
# archive moves: the newest kernel is resolved at run time). Offline with lists: a warning.
platform_apt_update() {
	local d s mirror
	d=$(platform_apt_dir)
	mirror=$(image_mirror)
	mkdir -p "$d/lists/partial" "$d/archives/partial"
	for s in $KERNEL_SUITES; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $s main"
	done >"$d/sources.list.new"
	if cmp -s "$d/sources.list.new" "$d/sources.list" &&
	   [ -n "$(find "$d/lists" -maxdepth 1 -name '*_Packages' -mmin -360 2>/dev/null)" ]; then
		rm -f "$d/sources.list.new"
		return 0
	fi
	mv "$d/sources.list.new" "$d/sources.list"
	if ! papt apt-get -q update >"$d/update.log" 2>&1; then
		if [ -n "$(find "$d/lists" -maxdepth 1 -name '*_Packages' 2>/dev/null)" ]; then
			warn "apt-get update for $KERNEL_SUITES failed; using the lists of an earlier run"
		else
			tail -n 5 "$d/update.log" >&2
			die "cannot read the package lists of $KERNEL_SUITES from $mirror (log above)"
		fi
	fi
}

# platform_newest_version PACKAGE: the highest version of PACKAGE in the private lists.
platform_newest_version() {
	local v best=
	for v in $(papt apt-cache madison "$1" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }'); do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
	done
	echo "$best"
}

# platform_kernel_debs PACKAGE=VERSION: prints PACKAGE=VERSION and, recursively, the linux-*
# packages it depends on with their exact versions (the image, binary, modules and base parts
# of the kernel; from 7.x Debian splits the kernel into those).
platform_kernel_debs() {
	local dep
	echo "$1"
	papt apt-cache show "$1" 2>/dev/null | sed -n 's/^Depends: //p' | head -n 1 | tr ',' '\n' |
		sed -n 's/^ *\(linux-[a-z]*-[0-9][^ ]*\) (= \([^)]*\)).*/\1=\2/p' |
	while read -r dep; do
		platform_kernel_debs "$dep"
	done
}

# platform_kernel: resolves the platform's kernel and unpacks it (once per version) into
# $CACHE/kernels/VERSION. Sets KERNEL (vmlinuz), KVER (uname -r), KROOT (the unpacked tree, whose
# lib/modules/KVER has a modules.dep made by depmod) and KPKG (the metapackage's version).
platform_kernel() {
	local want pkgs d tmp p
	platform_apt_update
	KPKG=$(platform_newest_version linux-image-amd64)
	[ -n "$KPKG" ] || die "no linux-image-amd64 in $KERNEL_SUITES"
	KROOT=$CACHE/kernels/$(printf %s "$KPKG" | tr -c 'A-Za-z0-9.+-' '_')
	if [ ! -f "$KROOT/.complete" ]; then
		exec 8>"$CACHE/.kernel.lock"
		flock 8
		if [ ! -f "$KROOT/.complete" ]; then
			pkgs=$(platform_kernel_debs "linux-image-amd64=$KPKG" | sort -u)
			d=$(platform_apt_dir)/archives
			say "downloading the $PLATFORM kernel $KPKG: $(echo $pkgs)"
			(cd "$d" && papt apt-get -q download $pkgs) >"$WORK/kernel-download.log" 2>&1 ||
				{ tail -n 5 "$WORK/kernel-download.log" >&2; die "apt-get download of the $PLATFORM kernel failed"; }
			tmp=$KROOT.tmp
			rm -rf "$tmp"
			mkdir -p "$tmp"
			for p in $pkgs; do
				dpkg -x "$d/${p%%=*}_$(printf %s "${p#*=}" | sed 's/:/%3a/')_amd64.deb" "$tmp" ||
					die "dpkg -x of ${p%%=*} failed"
			done
			platform_kernel_tree "$tmp"
			touch "$tmp/.complete"
			rm -rf "$KROOT"
			mv "$tmp" "$KROOT"
			rm -f "$d"/linux-*.deb
		fi
		exec 8>&-
	fi
	KVER=$(cat "$KROOT/.kver")
	KERNEL=$KROOT/boot/vmlinuz-$KVER
	[ -r "$KERNEL" ] || die "the $PLATFORM kernel package has no boot/vmlinuz-$KVER"
	if [ -r "$KROOT/boot/config-$KVER" ] && ! grep -q '^CONFIG_DEBUG_INFO_BTF=y' "$KROOT/boot/config-$KVER"; then
		warn "$KVER has no BTF (CONFIG_DEBUG_INFO_BTF): fexit cannot work there"
	fi
}

# platform_kernel_tree DIR: lays an unpacked kernel out as DIR/lib/modules/KVER (packages of
# merged-/usr suites ship usr/lib/modules, some parts still lib/modules) and DIR/boot/vmlinuz-KVER,
# config-KVER (from 7.x Debian ships them as usr/lib/modules/KVER/vmlinuz, config), records KVER
# and runs depmod there.
platform_kernel_tree() {
	local dir=$1 kver f
	if [ -d "$dir/usr/lib/modules" ]; then
		if [ -d "$dir/lib" ] && [ ! -L "$dir/lib" ]; then
			cp -a "$dir/lib/." "$dir/usr/lib/" && rm -rf "$dir/lib"
		fi
		ln -sfn usr/lib "$dir/lib"
	fi
	kver=$(ls "$dir/lib/modules" 2>/dev/null | head -n 1)
	[ -n "$kver" ] || die "the kernel packages hold no lib/modules/VERSION"
	mkdir -p "$dir/boot"
	for f in vmlinuz config System.map; do
		[ -e "$dir/boot/$f-$kver" ] || [ ! -e "$dir/lib/modules/$kver/$f" ] ||
			ln -s "../lib/modules/$kver/$f" "$dir/boot/$f-$kver"
	done
	[ -e "$dir/boot/vmlinuz-$kver" ] || die "the kernel packages hold no vmlinuz for $kver"
	depmod -b "$dir" "$kver" || die "depmod -b $dir $kver failed"
	echo "$kver" >"$dir/.kver"
}

# platform_label: "trixie 6.12.117+deb13-amd64 systemd 257", for the summary line.
platform_label() {
	local sd= major='?'
	[ -z "${BASE:-}" ] || [ ! -f "$BASE/.fexitd-vm-systemd" ] || sd=$(cat "$BASE/.fexitd-vm-systemd")
	[ -n "$sd" ] || [ "$SUITE" != "$(platform_host_suite)" ] ||
		sd=$(dpkg-query -W -f='${Version}' systemd 2>/dev/null)
	[ -z "$sd" ] || major=${sd%%[!0-9]*}
	echo "$PLATFORM $KVER systemd $major"
}

# The host's own suite: a platform whose userspace is the host's may use the fast boot, whose
# initramfs is made of the host's binaries (bpftool, bash).
platform_host_suite() {
	(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
}
