#!/bin/sh
# vm-mode: fast
# fexit on a real kernel, end to end: tests/bpf/fexit-smoke loads fexit/do_unlinkat
# (fexit_count.bpf.o), attaches it and counts its own unlinks through the .bss map; while it
# holds the link, bpftool must show a tracing link of attach type trace_fexit and its program,
# and once it exits the link must be gone.
# FEXITD_SMOKE_FUNC=NAME (tests/vm/run --env FEXITD_SMOKE_FUNC=NAME) retargets the program: a
# function that does not exist, or one off the unlink path, makes this test fail.
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"

smoke=$FEXITD_TEST_BUILD/bpf/fexit-smoke
obj=$FEXITD_TEST_BUILD/bpf/fexit_count.bpf.o
ready=$FEXITD_TEST_TMP/ready
[ -x "$smoke" ] && [ -f "$obj" ] || vm_fail "no $smoke or $obj: build the tree before running the VM tier"
command -v bpftool >/dev/null || vm_fail "no bpftool in the guest"

"$smoke" -n 32 -H "$ready" "$obj" &
pid=$!
held() { [ -s "$ready" ] || ! kill -0 "$pid" 2>/dev/null; }
vm_wait_for 60 held || { kill "$pid"; vm_fail "fexit-smoke did not hold its link within 60 s"; }
if [ ! -s "$ready" ]; then
	wait "$pid"
	rc=$?
	[ "$rc" != 77 ] ||
		vm_fail "the guest kernel refused the fexit load (the loader's skip): fexit must work here"
	vm_fail "fexit-smoke exited with status $rc before it held its link (its output is above)"
fi

read -r line <"$ready"
link_id=${line#link_id=}
link_id=${link_id%% *}
prog_id=${line##*prog_id=}
vm_bpftool_has link "$link_id" || { kill "$pid"; vm_fail "bpftool does not show link $link_id"; }
link=$vm_bpftool_out
vm_bpftool_has prog "$prog_id" || { kill "$pid"; vm_fail "bpftool does not show prog $prog_id"; }
prog=$vm_bpftool_out
echo "bpftool link: $link"
echo "bpftool prog: $prog"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || vm_fail "fexit-smoke exited with status $rc after it was released"

for want in '"type":"tracing"' '"attach_type":"trace_fexit"' "\"prog_id\":${prog_id}[,}]"; do
	echo "$link" | grep -q "$want" || vm_fail "bpftool link show: no $want for link $link_id"
done
for want in '"type":"tracing"' '"name":"fexit_count"'; do
	echo "$prog" | grep -q "$want" || vm_fail "bpftool prog show: no $want for prog $prog_id"
done
gone() { ! vm_bpftool_has link "$link_id"; }
vm_wait_for 10 gone || vm_fail "link $link_id still exists after its only holder exited"
echo "PASS: fexit link $link_id (prog $prog_id) counted, shown by bpftool as tracing/trace_fexit, gone after exit"
