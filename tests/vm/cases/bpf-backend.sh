#!/bin/sh
# vm-mode: fast
# vm-modules: dummy
# The BPF backend (daemon/bpf-*.c) on a real kernel: tests/kernel/test-bpf-backend runs
# every path (load, attach, pins, read-only fds, verifier log, one program on many functions, a
# module function, fexit on an XDP program); then, while it holds a link of backend_good and two
# instances of backend_multi, bpftool must show them as the backend reported them.
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"

test=$(find "$FEXITD_TEST_BUILD" -name test-bpf-backend -type f | head -n 1)
[ -x "${test:-/nonexistent}" ] || vm_fail "no test-bpf-backend in $FEXITD_TEST_BUILD: build the tree first"
dirs=$(find "$FEXITD_TEST_BUILD" -name 'backend_*.bpf.o' -exec dirname {} \; | sort -u)
[ -n "$dirs" ] || vm_fail "no backend_*.bpf.o in $FEXITD_TEST_BUILD"
command -v bpftool >/dev/null || vm_fail "no bpftool in the guest"

# The module function case uses dummy when the guest has it (no dependencies), else
# virtio_pci_modern_dev, a module on 6.1 only (6.12 builds virtio_pci in). Newer kernels ship
# dummy.ko.xz, which only modprobe unpacks; the test fails if neither is a module.
if [ ! -e /sys/kernel/btf/dummy ]; then
	modprobe dummy 2>/dev/null || {
		ko=$(find "/lib/modules/$(uname -r)" -name dummy.ko 2>/dev/null | head -n 1)
		[ -z "$ko" ] || insmod "$ko"
	}
fi
[ -e /sys/kernel/btf/dummy ] && echo "module dummy loaded, with BTF"

# shellcheck disable=SC2086 # one argument per folder
"$test" $dirs
rc=$?
[ "$rc" != 77 ] || vm_fail "test-bpf-backend skipped: the guest kernel refused fexit, and this is the kernel fexit must work on"
[ "$rc" = 0 ] || vm_fail "test-bpf-backend failed (status $rc; its output is above)"

ready=$FEXITD_TEST_TMP/bpf-backend.ready
rm -f "$ready"
# shellcheck disable=SC2086
"$test" --hold "$ready" $dirs &
pid=$!
held() { [ -s "$ready" ] || ! kill -0 "$pid" 2>/dev/null; }
vm_wait_for 60 held || { kill "$pid"; vm_fail "test-bpf-backend --hold did not report within 60 s"; }
[ -s "$ready" ] || vm_fail "test-bpf-backend --hold exited before it held its links"
val() { sed -n "s/^$1=//p" "$ready"; }
good_link=$(val good_link) good_prog=$(val good_prog) good_bss=$(val good_bss)
good_events=$(val good_events) multi_bss=$(val multi_bss)

# expect WHAT JSON PATTERN...: every pattern is in JSON.
expect() {
	what=$1 json=$2
	shift 2
	for want in "$@"; do
		echo "$json" | grep -q -- "$want" || { kill "$pid"; vm_fail "$what: no $want in $json"; }
	done
}
# What bpftool prints is checked, not its exit status (7.5 exits 255 from a good link show).
show() { bpftool -j "$@" 2>&1; }

json=$(show link show id "$good_link")
echo "bpftool link $good_link: $json"
expect "link $good_link" "$json" "^{\"id\":${good_link}," '"type":"tracing"' '"attach_type":"trace_fexit"' "\"prog_id\":${good_prog}[,}]"
json=$(show prog show id "$good_prog")
echo "bpftool prog $good_prog: $json"
expect "prog $good_prog" "$json" '"type":"tracing"' '"name":"count_unlink"' \
	"[[,]${good_bss}[],]" "[[,]${good_events}[],]"
expect "map $good_bss" "$(show map show id "$good_bss")" '"type":"array"' '"name":"fexitd.bss"'
expect "map $good_events" "$(show map show id "$good_events")" '"type":"ringbuf"' '"name":"events"'

# Two instances of one program: separate programs and links, one shared .bss map.
for n in 1 2; do
	link=$(val "multi_link$n") prog=$(val "multi_prog$n")
	json=$(show link show id "$link")
	echo "bpftool link $link: $json"
	expect "link $link" "$json" "^{\"id\":${link}," '"attach_type":"trace_fexit"' "\"prog_id\":${prog}[,}]"
	json=$(show prog show id "$prog")
	echo "bpftool prog $prog: $json"
	expect "prog $prog" "$json" '"name":"count_any"' "[[,]${multi_bss}[],]"
done
[ "$(val multi_prog1)" != "$(val multi_prog2)" ] || { kill "$pid"; vm_fail "the two instances share one program id"; }

multi_link1=$(val multi_link1) multi_link2=$(val multi_link2)
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || vm_fail "test-bpf-backend --hold exited with status $rc"
gone() {
	! vm_bpftool_has link "$good_link" &&
	! vm_bpftool_has link "$multi_link1" &&
	! vm_bpftool_has link "$multi_link2"
}
vm_wait_for 20 gone || vm_fail "links still exist after their only holder exited"
echo "PASS: bpf backend paths, and bpftool agrees on links $good_link $multi_link1 $multi_link2"
