#!/bin/bash
# vm-mode: systemd
# vm-timeout: 240
# fexitd as a Debian package (docs/packaging.md), in the platform's own image with its own dpkg
# and systemd: the image was installed with `dpkg -i` of tools/build-deb's packages (tests/vm/run
# --debs), so what the maintainer scripts did at install is what this case sees. Then the packages
# are purged, with a persistent program attached, and what is left must be exactly what
# docs/packaging.md says; finally they are installed again, and the guest is as it was.
set -uo pipefail
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"
prog=
# On failure, what this case loaded is unloaded, so that the next case starts clean.
fail() {
	echo "FAIL: $*"
	journalctl -b --no-pager -u fexitd | tail -n 30
	[ -z "$prog" ] || fexitctl unload "$prog" >/dev/null 2>&1
	exit 1
}
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
debs=/var/cache/fexitd-debs
pkgs="fexitd fexitctl libfexit0 libfexit-dev fexitd-examples"
obj=$FEXITD_TEST_BUILD/bpf/fexit_count.bpf.o

installed fexitd || vm_skip "fexitd was not installed from its .deb here (tests/vm/run --debs DIR)"
for p in $pkgs; do installed "$p" || fail "package $p is not installed"; done
echo "ok: installed with dpkg: $(dpkg-query -W -f='${Package} ${Version}\n' $pkgs | paste -sd, -)"

# What the maintainer scripts did at install time.
[ "$(systemctl is-enabled fexitd.socket)" = enabled ] || fail "fexitd.socket is not enabled by the package"
[ "$(systemctl is-active fexitd.socket)" = active ] || fail "fexitd.socket is not listening after boot"
getent group fexit >/dev/null || fail "no group fexit (sysusers)"
getent group fexit-admin >/dev/null || fail "no group fexit-admin (sysusers)"
[ -d /etc/fexitd/programs.d ] || fail "no /etc/fexitd/programs.d (tmpfiles)"
sock=$(systemctl show -p Listen --value fexitd.socket | awk '{ print $1 }')
[ "$(stat -c '%a %U %G' "$sock")" = "660 root fexit" ] ||
	fail "socket $sock is $(stat -c '%a %U %G' "$sock"), not 660 root fexit"
echo "ok: socket enabled and listening at $sock (660 root:fexit), groups fexit and fexit-admin, /etc/fexitd"

# The documentation a user reaches for.
for page in fexitd.8 fexitctl.1 fexitd-policy.conf.5 fexitd-programs.d.5 libfexit.3; do
	f=$(man -w "${page%.*}" 2>/dev/null | head -n 1)
	[ -n "$f" ] || fail "man ${page%.*}: no manual page"
	case $f in *"/man${page##*.}/"*) ;; *) fail "man ${page%.*} is $f, not in section ${page##*.}" ;; esac
done
man fexitctl 2>/dev/null | grep -q 'NAME' || fail "man fexitctl does not render"
echo "ok: man fexitd fexitctl fexitd-policy.conf fexitd-programs.d libfexit"
fexitctl status >/dev/null || fail "fexitctl status through the packaged socket"

# Purge with a persistent program attached.
out=$(fexitctl --json load "$obj" --attach) || fail "load: $out"
link_id=$(jq -r '.links[0].kernel_id' <<<"$out")
prog=$(jq -r '.programs[0].handle' <<<"$out")
vm_bpftool_has link "$link_id" || fail "bpftool does not show link $link_id: $vm_bpftool_out"
DEBIAN_FRONTEND=noninteractive dpkg --purge $pkgs >"$FEXITD_TEST_TMP/purge.log" 2>&1 ||
	{ cat "$FEXITD_TEST_TMP/purge.log"; fail "dpkg --purge failed"; }
for p in $pkgs; do installed "$p" && fail "$p still installed after purge"; done
for u in fexitd.socket fexitd.service fexit-unlinksnoop.service; do
	[ "$(systemctl show -p LoadState --value "$u")" = not-found ] ||
		fail "$u is still known to systemd after purge ($(systemctl show -p LoadState --value "$u"))"
done
systemctl is-active --quiet fexitd.service && fail "fexitd.service still running after purge"
[ -e /etc/fexitd ] && fail "/etc/fexitd left after purge: $(find /etc/fexitd | head)"
for f in /usr/sbin/fexitd /usr/bin/fexitctl /usr/share/man/man1/fexitctl.1.gz; do
	[ -e "$f" ] && fail "$f left after purge"
done
# Documented to stay (docs/packaging.md): the groups, and what is pinned stays attached.
getent group fexit >/dev/null || fail "the group fexit went, but docs/packaging.md says it stays"
vm_bpftool_has link "$link_id" ||
	fail "the pinned link $link_id went with the purge, but docs/packaging.md says it stays"
echo "ok: purge removed the packages, units, /etc/fexitd and the binaries; the groups and the pinned link $link_id stay, as documented"

# Installed again: the daemon re-adopts what it had pinned, and the next case finds it as before.
DEBIAN_FRONTEND=noninteractive dpkg -i "$debs"/*.deb >"$FEXITD_TEST_TMP/install.log" 2>&1 ||
	{ cat "$FEXITD_TEST_TMP/install.log"; fail "dpkg -i again failed"; }
vm_wait_for 30 sh -c '[ "$(systemctl is-active fexitd.socket)" = active ]' || fail "socket not active after reinstall"
n=$(fexitctl --json list | jq "[.handles[] | select(.kind==\"link\" and .kernel_id==$link_id)] | length")
[ "$n" = 1 ] || fail "the reinstalled daemon did not re-adopt link $link_id"
fexitctl unload "$prog" || fail "unload after reinstall"
link_gone() { ! vm_bpftool_has link "$link_id"; }
vm_wait_for 30 link_gone || fail "link $link_id still attached after unload"
prog=
echo "ok: reinstalled; the daemon re-adopted link $link_id; unloaded"
exit 0
