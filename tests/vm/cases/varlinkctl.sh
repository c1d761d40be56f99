#!/bin/bash
# vm-mode: systemd
# vm-timeout: 300
# systemd's own generic Varlink client drives fexitd: `varlinkctl info`, `list-methods`,
# `introspect io.fexitd` and `validate-idl` of our interface file accept it; Status, List and
# Describe answer; an unknown method, a wrong type and a stale handle give the right error names,
# read from what varlinkctl prints. Where varlinkctl has --push-fd (systemd 258+), an object is
# loaded and attached through varlinkctl alone and bpftool sees the link; where it has --exec (it
# then receives fds), a map is shared and a link taken through it, and the link is gone once the
# command that held it exits. systemd 252 (bookworm) has no varlinkctl: the case says so and skips.
set -uo pipefail
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"

systemd_version=$(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
[ -n "$systemd_version" ] || vm_fail "cannot read systemd's version: $(systemctl --version | head -n 1)"
if ! command -v varlinkctl >/dev/null; then
	[ "$systemd_version" -ge 255 ] && vm_fail "systemd $systemd_version should ship varlinkctl (255+), and this image has none"
	vm_skip "systemd $systemd_version has no varlinkctl (it came with systemd 255): nothing here to drive fexitd with"
fi
command -v jq >/dev/null || vm_fail "no jq in the guest image"
obj=$FEXITD_TEST_BUILD/bpf/fexit_count.bpf.o
sock=/run/fexitd/io.fexitd
[ -S "$sock" ] || vm_fail "no fexitd socket at $sock"
echo "systemd $systemd_version, $(varlinkctl --version | head -n 1), kernel $(uname -r)"

out=$FEXITD_TEST_TMP/out err=$FEXITD_TEST_TMP/err
# vl VERB ARGS...: varlinkctl with its output in $out/$err, shown in the log; fails on failure.
vl() {
	varlinkctl "$@" >"$out" 2>"$err"
	local rc=$?
	echo "\$ varlinkctl $* -> $rc"
	sed 's/^/  /' "$out" "$err" | head -n 40
	[ "$rc" = 0 ] || vm_fail "varlinkctl $* exited with $rc"
}
# vl_error ERROR METHOD PARAMS: the call must fail with exactly ERROR. --graceful=ERROR makes
# varlinkctl succeed on that error alone and name it; any other answer fails.
vl_error() {
	varlinkctl call --graceful="$1" "$sock" "$2" "$3" >"$out" 2>"$err"
	local rc=$?
	echo "\$ varlinkctl call --graceful=$1 $2 '$3' -> $rc"
	sed 's/^/  /' "$out" "$err"
	[ "$rc" = 0 ] || vm_fail "$2 $3 did not answer $1"
	grep -q "$1" "$err" || vm_fail "varlinkctl did not print $1 for $2 $3"
}

# Introspection, with systemd's own IDL parser.
vl info "$sock"
grep -q 'io.fexitd' "$out" || vm_fail "varlinkctl info does not list io.fexitd"
vl list-methods "$sock"
for m in io.fexitd.Load io.fexitd.Attach io.fexitd.TakeLink io.fexitd.ShareMap io.fexitd.Status; do
	grep -q "$m" "$out" || vm_fail "list-methods does not show $m"
done
vl introspect "$sock" io.fexitd
grep -q 'method Status' "$out" && grep -q 'error NoSuchHandle' "$out" || vm_fail "introspect io.fexitd lacks Status or NoSuchHandle"
# The guest has no docs/ folder; GetInterfaceDescription serves docs/io.fexitd.varlink byte for
# byte (daemon/CMakeLists.txt embeds it), so that text is what validate-idl checks.
idl=$FEXITD_TEST_TMP/io.fexitd.varlink
vl call "$sock" org.varlink.service.GetInterfaceDescription '{"interface":"io.fexitd"}'
jq -j .description "$out" >"$idl" && [ -s "$idl" ] || vm_fail "no interface description"
vl validate-idl "$idl"

# Calls.
# features appear once the daemon's start-up probe is done
probed() { varlinkctl call "$sock" io.fexitd.Status '{}' 2>/dev/null | jq -e .features >/dev/null; }
vm_wait_for 60 probed || vm_fail "Status never reported the kernel's features"
vl call "$sock" io.fexitd.Status '{}'
[ "$(jq -r .caller_role "$out")" = admin ] || vm_fail "Status: root is not admin"
jq -e '.features.fexit == true' "$out" >/dev/null || vm_fail "Status: fexit does not load on a kernel that must load it"
out_load=$(fexitctl --json load "$obj") || vm_fail "fexitctl load: $out_load"
prog=$(jq -r '.programs[0].handle' <<<"$out_load")
vl call "$sock" io.fexitd.List '{}'
jq -e --argjson h "$prog" '.handles[] | select(.handle == $h and .kind == "program")' "$out" >/dev/null ||
	vm_fail "List does not show program handle $prog"
vl call "$sock" io.fexitd.Describe "{\"handle\":$prog}"
[ "$(jq -r .handle.name "$out")" = fexit_count ] || vm_fail "Describe $prog: not fexit_count"

# Errors, by name.
vl_error org.varlink.service.MethodNotFound io.fexitd.Frobnicate '{}'
vl_error org.varlink.service.InvalidParameter io.fexitd.Describe '{"handle":"one"}'
fexitctl unload "$prog" || vm_fail "fexitctl unload $prog"
vl_error io.fexitd.NoSuchHandle io.fexitd.Describe "{\"handle\":$prog}"

# An object loaded through varlinkctl alone (--push-fd, systemd 258+).
if ! varlinkctl --help | grep -q -- --push-fd; then
	echo "systemd $systemd_version: varlinkctl has no --push-fd, so it cannot send fexitd an object; Load through varlinkctl not possible here"
	echo "PASS: varlinkctl (systemd $systemd_version) introspects fexitd, calls Status/List/Describe, reads NoSuchHandle, InvalidParameter, MethodNotFound"
	exit 0
fi
vl call --push-fd="$obj" "$sock" io.fexitd.Load '{"object":0,"attach":true,"lifetime":"persistent"}'
prog=$(jq -r '.programs[0].handle' "$out")
link=$(jq -r '.links[0].handle' "$out")
link_id=$(jq -r '.links[0].kernel_id' "$out")
bss=$(jq -r '.maps[] | select(.name | endswith(".bss")) | .handle' "$out")
bss_id=$(jq -r '.maps[] | select(.name | endswith(".bss")) | .kernel_id' "$out")
# the cases share one boot: whatever happens, leave nothing loaded
trap 'varlinkctl call "$sock" io.fexitd.Unload "{\"handle\":$prog}" >/dev/null 2>&1' EXIT
vm_bpftool_has link "$link_id" || vm_fail "bpftool does not see link $link_id loaded through varlinkctl"
echo "bpftool link $link_id: $vm_bpftool_out"
grep -q '"attach_type":"trace_fexit"' <<<"$vm_bpftool_out" || vm_fail "link $link_id is not trace_fexit"

# Receiving fds (--exec hands them to a command as LISTEN_FDS, from fd 3).
if ! varlinkctl --help | grep -q -- '--exec'; then
	echo "systemd $systemd_version: varlinkctl has no --exec, so it cannot receive fds; ShareMap/TakeLink through it not possible here"
else
	vl --exec call "$sock" io.fexitd.ShareMap "{\"handle\":$bss}" -- \
		sh -c 'echo "LISTEN_FDS=$LISTEN_FDS"; readlink /proc/$$/fd/3; grep map_id /proc/$$/fdinfo/3'
	grep -q "LISTEN_FDS=1" "$out" && grep -q 'anon_inode:bpf-map' "$out" && grep -Eq "map_id:[[:space:]]+$bss_id\$" "$out" ||
		vm_fail "ShareMap through varlinkctl did not hand over map $bss_id"
	# the command's status would be bpftool's (255 from 7.x even when it shows the link): what
	# it printed is checked instead
	vl --exec call "$sock" io.fexitd.TakeLink "{\"handle\":$link}" -- \
		sh -c 'readlink /proc/$$/fd/3; grep link_id /proc/$$/fdinfo/3; bpftool -j link show id '"$link_id"'; exit 0'
	# the link's anon inode is "bpf_link" (maps: "bpf-map")
	grep -q 'anon_inode:bpf_link' "$out" && grep -Eq "link_id:[[:space:]]+$link_id\$" "$out" &&
		grep -q "^{\"id\":$link_id," "$out" || vm_fail "TakeLink through varlinkctl did not hand over link $link_id"
	gone() { ! vm_bpftool_has link "$link_id"; }
	vm_wait_for 30 gone || vm_fail "link $link_id outlived the command that took it"
	echo "ok: link $link_id was the command's, and went with it"
fi
vl call "$sock" io.fexitd.Unload "{\"handle\":$prog}"
trap - EXIT
echo "PASS: varlinkctl (systemd $systemd_version) introspects fexitd, calls Status/List/Describe, reads the error names, loads through --push-fd and bpftool sees link $link_id"
